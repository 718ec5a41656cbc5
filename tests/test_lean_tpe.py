"""LeanTPESampler proposes exactly what Optuna's TPE proposes, converting each finished trial once."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from nas.study.sampling.lean_tpe import LeanTPESampler
from nas.study.sampling.samplers import make_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective_run(sampler: optuna.samplers.BaseSampler, n: int = 60) -> list[dict]:
    """A constrained two-objective study over integer and categorical choices, with pruned,
    failed and infeasible trials, and one parameter that only some trials have."""
    rng = np.random.default_rng(0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for i in range(n):
        trial = study.ask()
        a = trial.suggest_int("a", 0, 6)
        b = trial.suggest_categorical("b", ["x", "y", "z"])
        c = trial.suggest_int("c", 1, 9, step=2)
        if a > 3:
            trial.suggest_int("extra", 0, 2)
        trial.set_constraint("cost", a + c - 11.0)
        if i % 11 == 4:
            study.tell(trial, state=TrialState.PRUNED)
        elif i % 13 == 7:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, [a * (b == "y") + rng.normal(0, 0.3), a + c])
    return [t.params for t in study.trials]


def test_lean_tpe_proposes_what_optunas_tpe_proposes() -> None:
    kw = {"seed": 3, "n_startup_trials": 5, "multivariate": True}
    assert _objective_run(LeanTPESampler(**kw)) == _objective_run(optuna.samplers.TPESampler(**kw))


def test_lean_tpe_converts_each_finished_trial_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Optuna's TPE converts every finished trial's parameters twice at every ask; ours each
    trial's once in the whole study. If an Optuna release renames the method LeanTPESampler
    overrides, Optuna's conversion runs instead and this fails (the cache would silently be
    bypassed)."""
    converting = {"inside": 0, "calls": 0}
    for cls in (IntDistribution, CategoricalDistribution):
        def counted(self, value, real=cls.to_internal_repr):  # noqa: ANN001, ANN202
            converting["calls"] += converting["inside"] > 0
            return real(self, value)
        monkeypatch.setattr(cls, "to_internal_repr", counted)

    def inside(sampler_class: type) -> None:
        real = sampler_class._get_internal_repr

        def spy(self, *args):  # noqa: ANN001, ANN002, ANN202
            converting["inside"] += 1
            try:
                return real(self, *args)
            finally:
                converting["inside"] -= 1
        monkeypatch.setattr(sampler_class, "_get_internal_repr", spy)

    def conversions(sampler: optuna.samplers.BaseSampler) -> int:
        converting["calls"] = 0
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        study.optimize(lambda t: (t.suggest_int("a", 0, 5), t.suggest_categorical("b", [0, 1]) * 1.0), n_trials=20)
        return converting["calls"]

    inside(optuna.samplers.TPESampler)
    assert conversions(optuna.samplers.TPESampler(seed=0, n_startup_trials=3, multivariate=True)) > 2 * 20 * 2
    inside(LeanTPESampler)
    assert 0 < conversions(LeanTPESampler(seed=0, n_startup_trials=3, multivariate=True)) <= 2 * 19


def test_the_cli_tpe_is_the_lean_one() -> None:
    assert isinstance(make_sampler("tpe", 0).inner, LeanTPESampler)
    assert isinstance(make_sampler("auto", 0).inner.then, LeanTPESampler)
    assert isinstance(make_sampler("auto", 0).inner.first.then, LeanTPESampler)


def test_where_optuna_moved_what_it_reads_optunas_own_conversion_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fence's other way: with the capability check failing (as after a rename in Optuna),
    LeanTPESampler is Optuna's TPE, proposals and all."""
    kw = {"seed": 3, "n_startup_trials": 5, "multivariate": True}
    fenced_off = LeanTPESampler(**kw)
    fenced_off.lean = False
    assert _objective_run(fenced_off) == _objective_run(optuna.samplers.TPESampler(**kw))
    assert not fenced_off._rows  # nothing kept: Optuna's path ran
