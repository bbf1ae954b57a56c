"""The documentation site builds with no warning (`make docs`: mkdocs build --strict), the
README's links reach pages that exist, and the architecture page states every import rule
tests/test_package_shape.py enforces."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_site_builds_strictly_with_no_warning(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' (the dev extra has it)")
    site = tmp_path / "site"
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's banner, not ours
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    # Every page of docs/ became a page of the site, the API reference with its members.
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        folder = relative.parent if relative.name == "index" else relative
        assert (site / folder / "index.html").is_file(), page
    layers = (site / "reference" / "layers" / "index.html").read_text()
    for name in ("GRU", "GRUCell", "Stream"):
        assert f'id="grukit.layers.{name}"' in layers


def relative_links(markdown: str) -> list[str]:
    """The targets of a Markdown text's links that are paths, not web addresses."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and t[0] != "#"]


def test_readme_links_reach_files_that_exist():
    links = relative_links((ROOT / "README.md").read_text())
    assert any(link.startswith("docs/results/") for link in links)
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_link_checker_sees_a_broken_link():
    assert relative_links("[a](docs/x.md#y) [b](https://x.org) [c](#here)") == ["docs/x.md"]


def import_rules_on_the_page() -> dict[str, set[str]]:
    """The architecture page's table: package -> the grukit packages it may import."""
    text = (DOCS / "architecture.md").read_text()
    section = text.split("## The import rules")[1]
    rules = {}
    for package, allowed in re.findall(r"^\| `([a-z_.]+)/?` \| (.+) \|$", section, re.M):
        rules[package.removesuffix(".py")] = set(re.findall(r"`([a-z_]+)/?`", allowed))
    return rules


def test_the_architecture_page_states_the_enforced_import_rules():
    """The page's table is the import test's: the same packages, each allowed the same."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_package_shape import ALLOWED
    finally:
        sys.path.remove(str(ROOT / "tests"))
    stated = import_rules_on_the_page()
    assert stated, "the architecture page has its table of import rules"
    assert stated == {package: set(allowed) for package, allowed in ALLOWED.items()}


def test_the_files_the_pages_name_exist():
    """A path in backquotes (`tests/...`, `src/grukit/...`, `examples/...`) names a file or
    folder of the repository: when code moves, the page that points at it moves too."""
    named = set()
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        named |= set(
            re.findall(r"`((?:src|tests|examples|benchmarks|tools)/[\w./-]+)`", page.read_text())
        )
    assert len(named) > 10
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
