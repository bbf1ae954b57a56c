"""The README and the docs as a newcomer reads them: every code block marked runnable
runs exactly as printed (docs/contributing.md defines the mark), the README stays short,
the examples are the files they show, and what the pages say about the demo, threads and
dates agrees with the code."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]

MARK = re.compile(r"<!--\s*runnable\b(?P<options>.*?)-->")
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")
BLOCK_TIMEOUT_S = 180  # a block is seconds of work; this only stops a hung one


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it is, its language, its text and its runnable mark."""

    page: str
    line: int
    language: str
    code: str
    mark: str | None  # the options of its <!-- runnable ... --> mark, None if unmarked

    @property
    def rerun(self) -> bool:
        return self.mark is not None and "rerun" in self.mark.split('expect="')[0].split()

    @property
    def expect(self) -> str | None:
        found = re.search(r'expect="([^"]*)"', self.mark or "")
        return found.group(1) if found else None


def code_blocks(text: str, page: str = "") -> list[Block]:
    """The top-level fenced code blocks of a Markdown text, each with the runnable mark on
    the line just before its opening fence (a mark inside another block is text)."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i].strip())
        if not opening:
            i += 1
            continue
        fence, start = opening.group("fence"), i
        i += 1
        while i < len(lines) and not re.fullmatch(rf"{fence}`*", lines[i].strip()):
            i += 1
        previous = lines[start - 1].strip() if start else ""
        mark = MARK.fullmatch(previous)
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                language=opening.group("info").strip().split(" ")[0],
                code="\n".join(lines[start + 1 : i]) + "\n",
                mark=mark.group("options").strip() if mark else None,
            )
        )
        i += 1
    return blocks


def runnable_blocks() -> list[Block]:
    return [
        block
        for page in PAGES
        for block in code_blocks(page.read_text(), str(page.relative_to(ROOT)))
        if block.mark is not None
    ]


RUNNABLE = runnable_blocks()


def block_environment(folder: Path) -> dict:
    """The reader's shell: `python` and `grukit` are this interpreter and this checkout's
    grukit, one CPU thread (the suite runs beside other tests)."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, command in (("python", ""), ("grukit", " -m grukit.cli")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}"{command} "$@"\n')
        shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT / "src"),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def run_block(block: Block, folder: Path, environment: dict) -> str:
    """Run a block as printed in ``folder``; its output, or a failure that shows it."""
    if block.language == "python":
        (folder / "block.py").write_text(block.code)
        command = [sys.executable, "block.py"]
    elif block.language == "bash":
        (folder / "block.sh").write_text(block.code)
        command = ["bash", "-e", "block.sh"]
    else:
        pytest.fail(f"{block.page}:{block.line}: a runnable block must be python or bash")
    done = subprocess.run(
        command,
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{block.page}:{block.line} failed:\n{output[-3000:]}"
    return output


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"{b.page}:{b.line}" for b in RUNNABLE])
def test_runnable_block_runs_as_printed(block, tmp_path):
    """In a new folder holding only `examples/`, as a reader who cloned the repository runs
    it; a block marked `rerun` runs twice there, as a reader runs an example again."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    environment = block_environment(tmp_path)
    for _ in range(2 if block.rerun else 1):
        output = run_block(block, tmp_path, environment)
        if block.expect is not None:
            assert block.expect in output, output[-3000:]


def test_the_mark_is_read_only_outside_other_blocks():
    text = (
        "<!-- runnable -->\n```python\nprint(1)\n```\n\n```bash\nls\n```\n\n"
        "````markdown\n<!-- runnable -->\n```bash\nnot run\n```\n````\n\n"
        '<!-- runnable rerun expect="a b" -->\n```bash\necho a b\n```\n'
    )
    blocks = code_blocks(text)
    assert [(b.language, b.mark) for b in blocks] == [
        ("python", ""),
        ("bash", None),
        ("markdown", None),
        ("bash", 'rerun expect="a b"'),
    ]
    assert blocks[0].code == "print(1)\n" and not blocks[0].rerun
    assert blocks[3].rerun and blocks[3].expect == "a b"


def test_the_newcomer_pages_have_runnable_examples():
    """The README's layer and training examples, the guides' and the own-task example (run
    twice) are among the blocks the suite runs."""
    by_page = {}
    for block in RUNNABLE:
        by_page.setdefault(block.page, []).append(block)
    readme = by_page["README.md"]
    assert any("grukit.GRU(" in b.code for b in readme)
    assert any("grukit.train_task(" in b.code for b in readme)
    assert any("grukit train " in b.code for b in by_page["docs/cli.md"])
    (own,) = by_page["docs/own-task.md"]
    assert own.rerun and own.expect == "test accuracy 100.0% (chance: 50%)"


def test_readme_is_short():
    """What a newcomer needs; the rest lives in docs/."""
    assert len(README.read_text().splitlines()) <= 250


def test_own_task_page_shows_the_example_file_whole():
    """docs/own-task.md prints examples/own_task.py, imports and the call that trains
    included, so the block the suite runs is the file."""
    (block,) = [b for b in code_blocks((DOCS / "own-task.md").read_text()) if b.mark is not None]
    assert block.code == (ROOT / "examples" / "own_task.py").read_text()


def test_readme_layer_example_computes_what_its_comments_say():
    (block,) = [b for b in code_blocks(README.read_text()) if "output, h_n = gru(" in b.code]
    namespace: dict = {}
    exec(compile(block.code, "README.md", "exec"), namespace)
    assert tuple(namespace["output"].shape) == (4, 10, 32)
    assert tuple(namespace["h_n"].shape) == (4, 4, 16)
    assert bool((namespace["output"][3, 1:] == 0).all())


def test_tour_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "tour.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "gru (reset_after=False)    20,286" in printed
    difference = float(re.search(r"max \|output difference\| = (\S+)", printed).group(1))
    assert difference < 1e-5


def test_the_demo_is_described_with_its_own_recipe():
    """`make demo` is `--quick`: Adam at 3e-3 for 60 epochs at most, not the paper's
    RMSProp recipe; the README and Getting started say so."""
    from grukit.experiments.chung2014 import training_config

    quick = training_config(quick=True, seed=0)
    assert (quick.optimizer, quick.lr, quick.epochs, quick.weight_noise) == ("adam", 3e-3, 60, 0)
    assert "--quick" in (ROOT / "Makefile").read_text().split("demo:")[1].splitlines()[1]
    for page in (README, DOCS / "getting-started.md"):
        text = " ".join(page.read_text().split())
        assert "Adam at lr 3e-3" in text and "60 epochs at most" in text, page


def test_readme_timings_are_those_of_getting_started():
    """One source for the demo's, the suite's and the kernel build's times: every duration
    the README states is stated in Getting started too, which gives its date and machine;
    and the README counts no tests (the count changes with every commit)."""
    duration = r"\d[\d.,-]*(?: min)?(?: \d+)? s\b"
    readme = " ".join(README.read_text().split())
    started = " ".join((DOCS / "getting-started.md").read_text().split())
    stated = re.findall(duration, readme)
    assert stated, "the README states the demo's time"
    assert [d for d in stated if d not in started] == []
    assert re.search(r"\d[\d,]* (tests|passed)\b", readme) is None


def test_dates_stand_beside_measurements_and_no_issue_numbers():
    """A reader cannot place an issue number or a work session; a date is kept only as
    "measured on DATE" (or "ran on DATE") beside what was measured then."""
    for page in [*PAGES, *sorted((ROOT / "examples").rglob("*.toml"))]:
        text = " ".join(page.read_text().split())
        where = page.relative_to(ROOT)
        assert re.search(r"\bissues? \d+", text, flags=re.I) is None, where
        assert re.search(r"\b(this|earlier|later) session\b", text) is None, where
        dates = re.findall(r"\d{4}-\d{2}-\d{2}", text)
        placed = re.findall(r"(?:measured|ran) on (\d{4}-\d{2}-\d{2})", text, flags=re.I)
        assert len(dates) == len(placed), where


def test_threads_zero_is_described_as_it_behaves():
    """`threads = 0` is torch's default thread count whatever the load (with a warning when
    other jobs keep cores busy), not "the cores other jobs leave free"."""
    import io

    from grukit.train.threads import DEFAULT_THREADS, choose_threads

    assert choose_threads(0, log=io.StringIO()) == DEFAULT_THREADS
    (comment,) = [
        line
        for line in (ROOT / "examples" / "vowels.toml").read_text().splitlines()
        if line.startswith("threads")
    ]
    assert "torch's default" in comment and "leave free" not in comment
    cli = " ".join((DOCS / "cli.md").read_text().split())
    assert "The default, 0, is torch's own (one per physical core), whatever the load" in cli


def test_a_quick_language_model_recipe_is_shipped_and_documented():
    """examples/lm/quick.toml: minutes, not hours; float32 (any CPU); bundled data (no
    extra install); flat keys; and the LM page gives its command and numbers."""
    written = tomllib.loads((ROOT / "examples" / "lm" / "quick.toml").read_text())
    assert written["task"] == "lm" and written["dataset"] == "shakespeare"
    assert written["precision"] == "fp32" and written["max_minutes"] <= 10
    assert not any(isinstance(value, dict) for value in written.values())
    page = " ".join((DOCS / "results" / "language.md").read_text().split())
    assert "grukit train --config examples/lm/quick.toml" in page
    assert re.search(r"test \*\*\d\.\d{3}\*\*", page.split("## A quick model")[1])
