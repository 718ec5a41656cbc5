"""Model-based proposals inside successive halving: the sampler fit on one rung (BOHB's rule).

Why: under ``search --fidelity sh`` every trial's first value is the score at the *highest rung it
reached*. Told those values as they are, a sampler compares a small network's 1-epoch accuracy,
stopped early, with a large one's 9-epoch accuracy, and learns that "stopped early" means "worse
architecture" on the top rung's scale (BENCHMARKS.md §11b: the halving search with proposals fit
that way did not reach single fidelity's hypervolume, -0.46 +- 0.19). BOHB (Falkner et al., ICML
2018) fits its model on the results of *one* budget: the highest one with enough observations
to fit (number of parameters + 1), the lowest until then. :class:`RungView` does that for any
Optuna sampler:

* the rung: the highest rung whose finished trials number at least ``parameters + 1`` (the
  lowest rung until one does); chosen once per proposal and written on the trial
  (``TrialRecord.proposed_from_rung``), so a study shows what each proposal was fit on;
* every finished trial that has a result at that rung is shown as complete with that rung's
  score (its other objectives as stored): all on one budget's scale;
* a finished trial stopped *below* that rung is shown as what it is, a stopped (``PRUNED``)
  trial without intermediate values: TPE ranks it after every complete one (its "worse" group),
  GP leaves it out; neither mistakes its low-rung score for a top-rung one;
* trials not trained by halving (no rung scores), running and failed trials: unchanged.

Samplers read trials through Optuna's private ``study._get_trials``, answered by
:mod:`.study_view`; this module writes a user attribute from inside a sampler (``study._storage``,
as Optuna's own NSGA-II writes its generation).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from .study_view import StudyView

PROPOSED_FROM_RUNG = "proposed_from_rung"  # the TrialRecord field the chosen rung is written to


def rung_scores(trial: FrozenTrial) -> dict[str, float] | None:
    """The score each rung ranked on (``TrialRecord.rung_scores``; older studies: accuracies)."""
    attrs = trial.user_attrs
    scores = attrs.get("rung_scores")
    return scores if scores is not None else attrs.get("rung_accuracies")


def fitting_rung(trials: Sequence[FrozenTrial], rungs: Sequence[str], parameters: int) -> str:
    """BOHB's rule: the highest of ``rungs`` (lowest first) with at least ``parameters + 1``
    finished results, else the lowest."""
    counts = dict.fromkeys(rungs, 0)
    for t in trials:
        if t.state == TrialState.COMPLETE:
            for rung in rung_scores(t) or {}:
                if rung in counts:
                    counts[rung] += 1
    enough = [r for r in rungs if counts[r] >= parameters + 1]
    return enough[-1] if enough else rungs[0]


def at_rung(trial: FrozenTrial, rung: str) -> FrozenTrial:
    """``trial`` as a sampler fit on ``rung`` sees it (see the module)."""
    scores = rung_scores(trial) if trial.state == TrialState.COMPLETE else None
    if scores is None or trial.values is None:
        return trial
    view = copy.copy(trial)  # shallow: attrs, params and distributions shared, never written
    if rung in scores:
        view.values = [float(scores[rung]), *trial.values[1:]]
    else:
        view.state, view.values, view.intermediate_values = TrialState.PRUNED, None, {}
    return view


class _RungStudyView(StudyView):
    """The study as a sampler fit on one rung reads it; everything else is the study's."""

    CHANGES_STATES = True  # complete -> stopped below the rung

    def __init__(self, study: Any, rung: str, cache: dict[tuple[int, str], FrozenTrial]) -> None:  # noqa: ANN401
        super().__init__(study)
        self._rung, self._cache = rung, cache

    def show(self, t: FrozenTrial) -> FrozenTrial:
        if not t.state.is_finished():
            return at_rung(t, self._rung)
        key = (t.number, self._rung)  # a finished trial's record no longer changes
        if key not in self._cache:
            self._cache[key] = at_rung(t, self._rung)
        return self._cache[key]


class RungView(BaseSampler):
    """``inner`` proposing from one rung's results (see the module); ``rungs``: the rung keys
    (``nas.train.rungs.rung_key``), lowest first."""

    def __init__(self, inner: BaseSampler, rungs: Sequence[str]) -> None:
        self.inner, self.rungs = inner, list(rungs)
        self._rung_of: dict[int, str] = {}
        self._cache: dict[tuple[int, str], FrozenTrial] = {}

    def rung_for(self, study: Any, trial: FrozenTrial, record: bool = True) -> str:  # noqa: ANN401 - a study or a view
        """The rung this trial's proposal is fit on: chosen at its first call, written on the
        trial (``record``), then kept until the trial is told."""
        if trial.number not in self._rung_of:
            finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            parameters = len(finished[-1].distributions) if finished else 0
            rung = fitting_rung(finished, self.rungs, parameters)
            if not record:
                return rung
            self._rung_of[trial.number] = rung
            try:
                study._storage.set_trial_user_attr(trial._trial_id, PROPOSED_FROM_RUNG, rung)  # noqa: SLF001
            except (AttributeError, RuntimeError):  # a trial no longer writable: the proposal still stands
                pass
        return self._rung_of[trial.number]

    def _view(self, study: Any, trial: FrozenTrial, record: bool = True) -> _RungStudyView:  # noqa: ANN401
        return _RungStudyView(study, self.rung_for(study, trial, record), self._cache)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(self._view(study, trial), trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.inner.infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self.inner.sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:  # noqa: ANN401 - a parameter value
        return self.inner.sample_independent(self._view(study, trial), trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        # told (maybe by a process that did not propose it): no rung chosen or written now
        self.inner.after_trial(self._view(study, trial, record=False), trial, state, values)
        self._rung_of.pop(trial.number, None)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()
