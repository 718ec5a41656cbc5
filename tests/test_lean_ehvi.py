"""Optuna's EHVI estimate computed with less work (nas.study.sampling.lean_ehvi): the same values bit for
bit, with and without gradients, and so the same proposals."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from conftest import gp_acquisition
from nas.study.sampling.lean_ehvi import LeanLogEHVI, lean
from nas.study.sampling.samplers import LeanGPSampler


@pytest.mark.parametrize("constrained", [False, True])
def test_the_values_are_optunas_bit_for_bit(constrained: bool) -> None:
    acqf = gp_acquisition(2, constrained)
    replaced = lean(acqf)
    assert isinstance(replaced._acqf if constrained else replaced, LeanLogEHVI)
    assert type(acqf._acqf if constrained else acqf).__name__ == "LogEHVI"  # Optuna's object untouched
    rng = np.random.RandomState(0)
    for n in (512, 24, 1):
        x = acqf.search_space.sample_normalized_params(n, rng)
        assert np.array_equal(replaced.eval_acqf_no_grad(x), acqf.eval_acqf_no_grad(x))
    value, grad = replaced.eval_acqf_with_grad(x[0])
    expected_value, expected_grad = acqf.eval_acqf_with_grad(x[0])
    assert value == expected_value and np.array_equal(grad, expected_grad)


def test_other_acquisitions_are_left_as_optuna_built_them() -> None:
    three = gp_acquisition(3, False)
    assert lean(three) is three
    assert lean(object) is object


def test_gp_proposes_the_same_with_and_without_it() -> None:
    class OptunasEHVI(LeanGPSampler):
        def ehvi(self, acqf):  # noqa: ANN001, ANN202 - Optuna's own computation
            return acqf

    def proposals(sampler: optuna.samplers.BaseSampler) -> list[dict]:
        def objective(t: optuna.Trial) -> list[float]:
            a, b, c = t.suggest_int("a", 0, 5), t.suggest_int("b", 0, 5), t.suggest_categorical("c", ["x", "y"])
            t.set_constraint("size", a + b - 8.5)
            return [np.sin(a) + 0.2 * b + (c == "x"), 0.3 * a + np.cos(b)]
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        study.optimize(objective, n_trials=16)
        return [t.params for t in study.trials]

    lean_trials = proposals(LeanGPSampler(seed=2, n_startup_trials=8))
    assert lean_trials == proposals(OptunasEHVI(seed=2, n_startup_trials=8))
    assert len({tuple(p.values()) for p in lean_trials[8:]}) > 1  # GP proposed, not a constant


def test_the_sampler_scores_with_it(monkeypatch) -> None:  # noqa: ANN001
    calls = []
    real = LeanLogEHVI.eval_acqf
    monkeypatch.setattr(LeanLogEHVI, "eval_acqf", lambda self, x: calls.append(len(x)) or real(self, x))
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=LeanGPSampler(seed=0, n_startup_trials=4))
    study.optimize(lambda t: (t.suggest_int("a", 0, 5) / 5, t.suggest_int("b", 0, 5) + t.params["a"]), n_trials=6)
    assert len(calls) >= 2 and calls[0] == LeanGPSampler.PRELIMINARY_POINTS


def test_where_optuna_moved_its_gp_module_optunas_own_ehvi_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fence's other way: without Optuna's private GP module (a later release), nothing is
    replaced and the acquisition is Optuna's own."""
    from nas.study.sampling import lean_ehvi

    acqf = gp_acquisition(2, True)
    monkeypatch.setattr(lean_ehvi, "optuna_acqf", None)
    assert lean(acqf) is acqf
