"""The study as a wrapped sampler reads it: each trial passed through a view, the rest the study's.

Why: :mod:`.ordinal_view` (ordered choices as indexes) and :mod:`.rung_view` (one rung's scores)
both change what a sampler sees of the trials without changing the study. Samplers read trials
through Optuna's private ``study._get_trials`` (and the public ``get_trials``/``trials``); this
class answers those three and forwards everything else, so that each view only says how it shows
one trial. The one place that knows which study calls samplers make.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from optuna.trial import FrozenTrial, TrialState


class StudyView:
    """``study`` with every trial a sampler reads passed through :meth:`show`.

    ``CHANGES_STATES``: whether :meth:`show` may change a trial's state (then every trial is read
    and the states asked for are filtered after the view, not before)."""

    CHANGES_STATES = False

    def __init__(self, study: Any) -> None:  # noqa: ANN401 - a study, or another view of one
        self._study = study

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever the study has
        return getattr(self._study, name)

    def show(self, trial: FrozenTrial) -> FrozenTrial:
        raise NotImplementedError

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        read_states = None if self.CHANGES_STATES else states
        read = getattr(self._study, "_get_trials", None)  # the samplers' own call; else the public one
        trials = (read(deepcopy=False, states=read_states, use_cache=use_cache) if read is not None
                  else self._study.get_trials(deepcopy=False, states=read_states))
        shown = [self.show(t) for t in trials]
        if self.CHANGES_STATES and states is not None:
            shown = [t for t in shown if t.state in states]
        return shown

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy, states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials()
