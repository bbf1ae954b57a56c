"""`grukit build`: builds, checks and says where; a failing build is one line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

from grukit.cli import main


def test_build_checks_the_kernels(capsys):
    assert main(["build"]) == 0
    printed = capsys.readouterr().out
    assert "building the fused CPU extension in" in printed
    assert "check: fused equals the reference" in printed


def test_build_without_a_compiler_fails_in_one_line(tmp_path):
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"), GRUKIT_CACHE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "grukit.cli", "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # A first build says what it is doing before the half-minute it takes, then fails in
    # one line.
    assert len(lines) == 2 and lines[0].startswith(
        "grukit: compiling the fused CPU kernels for this machine, once"
    )
    assert lines[1].startswith("grukit build: the fused CPU extension could not be built")
    assert "Traceback" not in result.stderr
