"""README's Python examples run as written (issue 33): every ```python block, in order, in a
folder holding what the README's commands before them would have left (a study named "demo",
an export in ``exported/``)."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import ROOT, run_cli
from search_helpers import cli_search


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)


def test_every_python_block_of_the_readme_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli_search(tmp_path, "demo", 4)  # what `make search` leaves, smaller
    code, _, err = run_cli("export", "--study", "demo", "--arch", "knee", "--final-epochs", "0.2",
                           "--format", "json,state_dict", "--out", "exported/")
    assert code == 0, err
    blocks = python_blocks()
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(block, f"README.md python block {i + 1}", "exec"), {"__name__": "readme"})
            except Exception as exc:  # noqa: BLE001 - name the block that failed
                raise AssertionError(f"README python block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}") from exc
    assert (tmp_path / "results/py/pareto.csv").is_file()  # the last block's search ran
