"""The README's usage example and the demo run as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_usage_example_runs():
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
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
