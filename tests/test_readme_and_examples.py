"""The README's usage example and the demo run as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_own_task_is_the_example_file():
    """The README's "add your own task" code is examples/own_task.py's, which a test runs."""
    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in python_blocks(readme) if "class ParityTask(Task):" in b]
    assert block in (ROOT / "examples" / "own_task.py").read_text()


def test_readme_usage_example_runs():
    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in python_blocks(readme) if "output, h_n = gru(" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert tuple(namespace["output"].shape) == (4, 10, 32)
    assert tuple(namespace["h_n"].shape) == (4, 4, 16)
    assert bool((namespace["output"][3, 1:] == 0).all())


def test_tour_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "tour.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "gru (reset_after=False)    20,286" in printed
    difference = float(re.search(r"max \|output difference\| = (\S+)", printed).group(1))
    assert difference < 1e-5
