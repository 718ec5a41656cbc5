"""The samplers' view of ordered numeric choices: indexes, while the study stores the values.

Why: a study's parameters are what optuna-dashboard, ``trial.params`` and every Optuna tool show.
Stored as indexes (v3), ``s1_channels`` read 0/1/2 where the network had 16/24/32 (issue 33).
Stored as plain categoricals of the values, the samplers would lose the order that cut TPE's
trials to random search's hypervolume from 84 to 52 (BENCHMARKS.md §3). So the study stores a
:class:`~optuna.distributions.CategoricalDistribution` of the *sorted* numeric choices
(``nas.arch.space``, encoding ``values``), and :class:`OrdinalView` wraps the sampler: every
trial it reads has those parameters turned into indexes under an ``IntDistribution(0, n-1)``,
exactly what v3 stored, and what the inner sampler proposes is turned back into the value. The
inner sampler therefore sees the same problem as before, bit for bit (tested: the same seed
proposes the same genotypes under both encodings). Its cost is within noise: mean ask over a
120-trial mobile study, three alternating rounds in fresh processes, TPE 7.5 / 8.0 / 8.0 ms with
the view against 7.3 / 7.2 / 9.2 bare, GP 41.5 / 42.4 / 52.9 against 45.9 / 37.8 / 51.2
(``python -m bench.overhead view``, BENCHMARKS.md §2).

Samplers read trials through Optuna's private ``study._get_trials``; :mod:`.study_view` (the one
module that knows that call) answers it with the translated trials.
"""

from __future__ import annotations

import copy

from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from .study_view import StudyView


def is_ordered_values(d: BaseDistribution) -> bool:
    """A categorical of two or more numbers in ascending order: an ordered choice stored by value."""
    if not isinstance(d, CategoricalDistribution) or len(d.choices) < 2:
        return False
    numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in d.choices)
    return numbers and list(d.choices) == sorted(d.choices)


def to_index(d: BaseDistribution) -> BaseDistribution:
    return IntDistribution(0, len(d.choices) - 1) if is_ordered_values(d) else d  # type: ignore[attr-defined]


class _Translator:
    """Trials with ordered values as indexes; finished trials translated once."""

    def __init__(self) -> None:
        self._finished: dict[int, FrozenTrial] = {}

    def trial(self, t: FrozenTrial) -> FrozenTrial:
        key = getattr(t, "_trial_id", None)  # the storage's id, stable per trial; no id: no cache
        cached = self._finished.get(key) if key is not None else None
        if cached is not None:
            return cached
        if not any(is_ordered_values(d) for d in t.distributions.values()):
            view = t
        else:
            view = copy.copy(t)  # shallow: the attrs and values are shared, never written
            view.params = {k: (t.distributions[k].choices.index(v) if is_ordered_values(t.distributions[k])  # type: ignore[attr-defined]
                               else v) for k, v in t.params.items()}
            view.distributions = {k: to_index(d) for k, d in t.distributions.items()}
        if key is not None and t.state.is_finished():
            self._finished[key] = view
        return view


class _StudyView(StudyView):
    """The study as the inner sampler reads it: trials translated, everything else the study's."""

    def __init__(self, study: optuna.Study, translate: _Translator) -> None:
        super().__init__(study)
        self._translate = translate

    def show(self, trial: FrozenTrial) -> FrozenTrial:
        return self._translate.trial(trial)


class OrdinalView(BaseSampler):
    """``inner`` sampling ordered numeric choices as indexes, the study storing their values."""

    def __init__(self, inner: BaseSampler) -> None:
        self.inner = inner
        self._translate = _Translator()

    def _view(self, study: optuna.Study) -> Any:  # noqa: ANN401 - a _StudyView standing in for the study
        return _StudyView(study, self._translate)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space = self.inner.infer_relative_search_space(self._view(study), self._translate.trial(trial))
        values = self._value_distributions(study, space.keys())
        return {name: values.get(name, d) for name, d in space.items()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        index_space = {name: to_index(d) for name, d in search_space.items()}
        proposed = self.inner.sample_relative(self._view(study), self._translate.trial(trial), index_space)
        return {name: (search_space[name].choices[int(v)] if is_ordered_values(search_space[name]) else v)  # type: ignore[attr-defined]
                for name, v in proposed.items()}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:  # noqa: ANN401 - a parameter value
        value = self.inner.sample_independent(self._view(study), self._translate.trial(trial), param_name,
                                              to_index(param_distribution))
        if is_ordered_values(param_distribution):
            return param_distribution.choices[int(value)]  # type: ignore[attr-defined]
        return value

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(self._view(study), self._translate.trial(trial))

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.inner.after_trial(self._view(study), self._translate.trial(trial), state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()

    def _value_distributions(self, study: optuna.Study, names: Container[str]) -> dict[str, BaseDistribution]:
        """The stored (value) distributions of ``names``, from the latest trials that have them:
        what the relative search space must say, so that Optuna accepts the proposal."""
        found: dict[str, BaseDistribution] = {}
        wanted = set(names)  # type: ignore[arg-type]
        for t in reversed(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))):
            for name in wanted & t.distributions.keys():
                found.setdefault(name, t.distributions[name])
            if len(found) == len(wanted):
                break
        return found
