"""search --reward-on latency: MnasNet's own reward, ACC x (latency / T)^w, on measured latency."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.errors import UserError
from nas.study import latency_book
from nas.study.store.records import StudyRecord, TrialRecord

from conftest import run_cli
from search_helpers import TWO_ARCH_SPACE, FakeTrainer, config, search, write_space
from test_latency_budget import fake_latency


def test_reward_on_latency_weighs_measured_latency_against_its_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency(calls))
    cfg = config(tmp_path, space=str(write_space(tmp_path, TWO_ARCH_SPACE)), trials=8,
                 latency_target_ms=0.1, reward_on="latency", reward_exponent=-0.3)
    study = search(cfg, FakeTrainer())
    assert len(study.directions) == 1 and study.metric_names == ["reward"]
    done = [(t, TrialRecord.from_trial(t)) for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(calls) == sorted({r.key for _, r in done})  # every architecture timed, once
    for t, r in done:
        assert r.latency_ms is not None and r.accuracy is not None
        assert t.values[0] == pytest.approx(r.accuracy * (r.latency_ms / 0.1) ** -0.3)
        # a FLOPs-weighted reward would differ: the fake latency is FLOPs / 1e6 ms, not FLOPs / T
        assert t.values[0] != pytest.approx(r.accuracy * (r.flops / 0.1) ** -0.3)
    record = StudyRecord.from_study(study)
    assert record.reward_on == "latency" and record.latency_target_ms == 0.1 and "batch 1" in record.latency
    with pytest.raises(UserError, match="reward on latency"):  # resuming with another target
        search(config(tmp_path, space=cfg.space, trials=9, latency_target_ms=0.2, reward_on="latency"),
               FakeTrainer())


def test_reward_on_latency_is_printed_with_its_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(latency_book, "measure_latency", fake_latency([]))
    space = write_space(tmp_path)
    code, out, err = run_cli("search", "--space", str(space), "--dataset", "digits", "--trials", "2",
                             "--study", "r", "--epochs", "0.05", "--no-progress", "--reward-on", "latency",
                             "--latency-target", "500us")
    assert code == 0, err
    assert "ACC x (latency/T)^w, T = 0.5 ms" in out and "latency = median forward pass" in out


def test_successive_halving_ranks_rungs_on_latency_when_latency_is_the_objective(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import math

    from nas.arch.genotype import Genotype
    from nas.model.cost import estimate_cost
    from nas.model.latency import Latency, LatencySettings
    from nas.report.results import pareto_frame, trials_frame
    from nas.study.halving import rung_results
    from nas.train.rungs import Rungs

    from search_helpers import FakeRun

    def inverse(g: Genotype, settings: LatencySettings) -> Latency:  # latency falls as FLOPs rise
        return Latency(1e6 / estimate_cost(g).flops, 10, True, settings, settings.describe())

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(latency_book, "measure_latency", inverse)
    cfg = config(tmp_path, fidelity=Rungs(min_epochs=1, max_epochs=9, eta=3, screen=None), trials=12,
                 objectives="accuracy,latency")
    study = search_module_run(cfg, FakeRun)
    records = [TrialRecord.from_trial(t) for t in study.trials if t.state == TrialState.COMPLETE]
    assert all(r.latency_ms == pytest.approx(1e6 / r.flops) for r in records)
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            assert t.values[1] == pytest.approx(math.log10(TrialRecord.from_trial(t).latency_ms))
    acc, costs = rung_results(study.trials, "1", exclude_key=None, cost="latency")
    by_key = {r.key: r.latency_ms for r in records}
    assert sorted(costs) == sorted(by_key.values())  # each genotype's rung-1 result, ranked on latency
    assert acc and len(costs) == len(by_key)
    front = pareto_frame(trials_frame(study), "latency")
    assert len(front) and front["top_rung"].all()
    with pytest.raises(UserError, match="ranks each rung on accuracy and one cost"):
        search_module_run(config(tmp_path, study="u", fidelity=Rungs(), objectives="accuracy,flops,latency"), FakeRun)


def search_module_run(cfg, run_factory):  # noqa: ANN001, ANN201 - SearchConfig, RunFactory -> Study
    import io

    from nas.study.search import run_search

    return run_search(cfg, out=io.StringIO(), trainer=FakeTrainer(), run_factory=run_factory)
