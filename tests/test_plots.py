"""Plots say what the tables say (issue 33): the knee the CLI prints is ringed and named, front
points carry trial numbers, FLOPs ticks read as the tables do, the final plot shows each network
once (its largest budget), and the .html page is an inline SVG whose points name their trial."""

from __future__ import annotations

import re

from conftest import run_cli
from search_helpers import cli_search


def test_front_and_final_plots_agree_with_the_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli_search(tmp_path, "p", 6)
    code, out, err = run_cli("pareto", "--study", "p", "--plot", str(tmp_path / "front.html"))
    assert code == 0, err
    page = (tmp_path / "front.html").read_text()
    code, knee_out, err = run_cli("export", "--study", "p", "--arch", "knee", "--out", str(tmp_path / "k"))
    knee_number = re.search(r"trial (\d+)", (tmp_path / "k/model_card.md").read_text().split("Source:")[1]).group(1)
    assert "<svg" in page and "<img" not in page
    assert f"knee (trial {knee_number})" in page  # the knee the commands pick, named on the plot
    tips = re.findall(r"<title>trial (\d+): score", page)
    assert len(tips) == len(set(tips)) >= 3  # every evaluated point names its trial when hovered
    assert re.search(r">\d+(\.\d+)?[kM]<", page)  # ticks as the tables write FLOPs
    code, _, err = run_cli("retrain", "--study", "p", "--arch", "knee", "--final-epochs", "0.2", "--seeds", "1")
    assert code == 0, err
    code, _, err = run_cli("retrain", "--study", "p", "--arch", "knee", "--final-epochs", "0.3", "--seeds", "1")
    assert code == 0, err
    code, _, err = run_cli("pareto", "--study", "p", "--final", "--plot", str(tmp_path / "final.html"))
    assert code == 0, err
    final = (tmp_path / "final.html").read_text()
    retrained = re.findall(r'<g id="f\d+"><title>', final)
    assert len(retrained) == 1  # one network, two budgets: drawn once, at its largest
    assert final.count("the search&#x27;s knee") + final.count("the search's knee") == 1
