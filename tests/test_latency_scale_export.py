"""Latency beyond the search: every scaling grid point and family member timed (each genotype
once, reusing the search's figures), and the export's model card."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from nas.arch.genotype import Genotype
from nas.errors import UserError
from nas.report.results import resolve_trial
from nas.study import latency_book
from nas.study.store.records import TrialRecord
from nas.study.scale import GridSettings, run_scaling
from nas.study.store.storage import load_handle

from conftest import run_cli
from search_helpers import FakeTrainer, config, search
from test_latency_budget import fake_latency


@pytest.fixture
def timed_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A search that measured latency (fake: FLOPs / 1e6 ms); the calls made are listed."""
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    search(config(tmp_path, trials=4, latency_max_ms=1000.0), FakeTrainer())
    return calls


def test_scale_times_each_grid_point_and_member_once_and_reuses_the_search(timed_study: list[str]) -> None:
    from nas.model.cost import estimate_cost

    searched = set(timed_study)
    handle = load_handle(None, "t")
    base = Genotype.from_json(resolve_trial(handle.study, "best").user_attrs["genotype"])
    assert base.key() in searched
    out = io.StringIO()
    result = run_scaling(handle, base, "best", GridSettings(2.0, 0.1, 0.05), phi_max=2, out=out,
                         trainer=FakeTrainer())
    grid, family = result.grid, result.family
    done = grid[grid["state"] == "COMPLETE"]
    assert done["latency_ms"].notna().all() and family["latency_ms"].notna().all()
    for frame in (done, family):  # the fake's figure for each network: its own FLOPs
        assert (frame["latency_ms"] == frame["flops"] / 1e6).all()
    new = timed_study[len(searched):]
    assert sorted(new) == sorted(set(new)) and base.key() not in new  # once each; the base reused
    assert set(new) == (set(done["key"]) | set(family["key"])) - searched
    assert "latency = median forward pass" in out.getvalue() and "ms" in out.getvalue()
    before = len(timed_study)
    again = run_scaling(handle, base, "best", GridSettings(2.0, 0.1, 0.05), phi_max=2, out=io.StringIO(),
                        trainer=FakeTrainer())
    assert len(timed_study) == before  # resumed: the scaling study's own table is reused
    assert list(again.family["latency_ms"]) == list(family["latency_ms"])
    assert estimate_cost(base).flops / 1e6 == family.loc[0, "latency_ms"]


def test_scale_without_latency_measures_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    search(config(tmp_path, trials=3), FakeTrainer())
    handle = load_handle(None, "t")
    base = Genotype.from_json(resolve_trial(handle.study, "best").user_attrs["genotype"])
    result = run_scaling(handle, base, "best", GridSettings(2.0, 0.1, 0.05), phi_max=1, out=io.StringIO(),
                         trainer=FakeTrainer())
    assert not calls and "latency_ms" not in result.family


@pytest.mark.skipif(torch.cuda.is_available(), reason="refusal of a missing CUDA runtime")
def test_scale_refuses_a_runtime_that_is_not_here_before_training(timed_study: list[str]) -> None:
    handle = load_handle(None, "t")
    base = Genotype.from_json(resolve_trial(handle.study, "best").user_attrs["genotype"])
    trainer = FakeTrainer()
    with pytest.raises(UserError, match="no CUDA device"):
        run_scaling(handle, base, "best", GridSettings(2.0, 0.1, 0.05), phi_max=1, out=io.StringIO(),
                    trainer=trainer, latency_on="torch-cuda")
    assert not trainer.trained


def test_export_model_card_reuses_the_searched_latency_or_measures_it(timed_study: list[str], tmp_path: Path) -> None:
    handle = load_handle(None, "t")
    best = resolve_trial(handle.study, "best")
    searched_ms = TrialRecord.from_trial(best).latency_ms
    before = len(timed_study)
    code, out, err = run_cli("export", "--study", "t", "--arch", "best", "--format", "json", "--out", "e1")
    assert code == 0, err
    card = (tmp_path / "e1" / "model_card.md").read_text()
    assert f"- Latency: {searched_ms:.3f} ms (median forward pass" in card and len(timed_study) == before
    assert f"latency: {searched_ms:.3f} ms" in out
    code, out, err = run_cli("export", "--study", "t", "--arch", "best", "--format", "json", "--out", "e2",
                             "--latency-on", "onnxruntime")
    assert code == 0, err  # another runtime: measured now
    assert "onnxruntime" in (tmp_path / "e2" / "model_card.md").read_text() and len(timed_study) == before + 1


def test_export_of_a_study_without_latency_says_not_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=2), FakeTrainer())
    code, _, err = run_cli("export", "--study", "t", "--arch", "best", "--format", "json", "--out", "e")
    assert code == 0, err
    assert "- Latency: not measured (export --latency-on RUNTIME measures it)" in (tmp_path / "e/model_card.md").read_text()
