"""search --latency-max: latency measured once per architecture before training, an architecture
over the budget never trained, and a setup that would distort timings refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.arch.genotype import Genotype
from nas.model.latency import Latency, LatencySettings
from nas.study import latency_book
from nas.study.store.records import StudyRecord, TrialRecord

from conftest import run_cli
from search_helpers import TWO_ARCH_SPACE, FakeTrainer, config, search, write_space


def fake_latency(calls: list[str]):  # noqa: ANN201
    """Latency that grows with FLOPs (so that the budget splits the space), counting calls."""
    from nas.model.cost import estimate_cost

    def measure(g: Genotype, settings: LatencySettings) -> Latency:
        calls.append(g.key())
        return Latency(estimate_cost(g).flops / 1e6, 20, True, settings, settings.describe())
    return measure


def test_over_latency_is_never_trained_and_each_architecture_is_measured_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    trainer = FakeTrainer()
    # a budget between the two architectures' fake latencies (their FLOPs in millions)
    cfg = config(tmp_path, space=str(write_space(tmp_path, TWO_ARCH_SPACE)), trials=6, latency_max_ms=0.13)
    study = search(cfg, trainer)
    records = [TrialRecord.from_trial(t) for t in study.trials if t.state == TrialState.COMPLETE]
    over = [r for r in records if r.over_budget]
    under = [r for r in records if not r.over_budget]
    assert over and under and all(r.latency_ms > 0.13 for r in over) and all(r.latency_ms <= 0.13 for r in under)
    assert not any(r.trained for r in over)
    assert {g.key() for g in trainer.trained} <= {r.key for r in under}
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 2  # once per architecture
    assert all(t.constraints.get("latency") is not None for t in study.trials if t.state == TrialState.COMPLETE)
    assert "batch 1" in StudyRecord.from_study(study).latency and StudyRecord.from_study(study).latency_max_ms == 0.13


def test_a_real_measurement_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=2, latency_max_ms=1000.0), FakeTrainer())
    assert all(0 < TrialRecord.from_trial(t).latency_ms < 1000 for t in study.trials)


@pytest.mark.parametrize("args, message", [
    (["--latency-max", "2 parsecs"], "--latency-max '2 parsecs': expected a time such as 2ms"),
    (["--latency-max", "0ms"], "must be a positive time"),
    (["--latency-max", "2ms", "--workers", "2"], "with --workers 2: the other workers' training would share the CPU cores"),
    (["--latency-max", "2ms", "--latency-batch", "0"], "--latency-batch and the thread count must be >= 1"),
    (["--reward-on", "latency"], "--reward-on latency needs its target: --latency-target"),
    (["--latency-target", "2ms"], "--latency-target sets the target of --reward-on latency, but the reward is on flops"),
    (["--reward-on", "latency", "--flops-target", "1M"], "--flops-target sets the target of --reward-on flops"),
    (["--reward-on", "latency", "--latency-target", "soon"], "--latency-target 'soon': expected a time"),
])
def test_bad_latency_settings_are_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path)
    code, _, err = run_cli("search", "--space", str(space), "--dataset", "digits", "--trials", "2",
                           "--study", "lat", *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "results" / "lat").exists()


def test_pareto_by_latency_trades_accuracy_against_measured_latency(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    search(config(tmp_path, trials=8, latency_max_ms=1000.0), FakeTrainer())
    code, out, err = run_cli("pareto", "--study", "t", "--by", "latency", "--csv", "front.csv")
    assert code == 0, err
    assert "Pareto front by latency" in out and "latency = median forward pass" in out and "ms" in out
    import pandas as pd

    front = pd.read_csv("front.csv")
    assert front["latency_ms"].is_monotonic_increasing and front["accuracy"].is_monotonic_increasing
    code, out, err = run_cli("pareto", "--study", "t")  # by FLOPs: the latency column is shown too
    assert code == 0 and "latency" in out


def test_pareto_by_latency_without_measurements_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=2), FakeTrainer())
    code, _, err = run_cli("pareto", "--study", "t", "--by", "latency")
    assert code == 2 and "has no measured latency: search it with --latency-max" in err


@pytest.mark.parametrize("objectives, names", [
    ("accuracy,latency", ["accuracy", "log10_latency_ms"]),
    ("accuracy,flops,latency", ["accuracy", "log10_flops", "log10_latency_ms"]),
])
def test_latency_as_an_objective(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, objectives: str,
                                 names: list[str]) -> None:
    import math

    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    study = search(config(tmp_path, trials=5, objectives=objectives, flops_max=0.5e6), FakeTrainer())
    assert StudyRecord.from_study(study).objectives == names and len(study.directions) == len(names)
    assert study.metric_names == names
    records = [(t, TrialRecord.from_trial(t)) for t in study.trials]
    slowest = max(r.latency_ms for _, r in records if r.latency_ms is not None)
    assert any(r.over_budget for _, r in records)
    for t, r in records:
        if r.over_budget:  # over the FLOPs budget: never timed, told as worse than anything measured
            assert r.latency_ms is None and t.values[-1] > math.log10(slowest)
        else:
            assert t.values[-1] == pytest.approx(math.log10(r.latency_ms))
    code, out, _ = run_cli("pareto", "--study", "t")  # the study's own objective by default
    assert code == 0 and ("Pareto front by latency" in out) == (objectives == "accuracy,latency")
    with pytest.raises(Exception, match="exists with objectives"):  # resuming with other objectives
        search(config(tmp_path, trials=6, objectives="accuracy,flops"), FakeTrainer())
