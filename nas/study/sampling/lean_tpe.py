"""Optuna's TPE sampler with each finished trial's parameters converted once, not at every ask.

At every ask, multivariate TPE converts every finished trial's parameters to Optuna's internal
representation twice (once for the "below" and once for the "above" estimator): at 1,000 trials
of the mobile space that is ~42,000 ``to_internal_repr`` calls in Python loops, the largest
single item of the ask in a profile (BENCHMARKS.md §2). A finished trial's parameters never
change, so :class:`LeanTPESampler` keeps each one's converted row and builds the same arrays
from the rows: the ask at 1,000 trials 13.9 against 18.3 ms, the 1,000-trial study's loop 20.9
against 25.9 ms a trial (``python -m bench.overhead tpe``). The proposals are Optuna's (tests/test_lean_tpe.py compares a study's trials with
Optuna's TPE); only the time differs. No torch here: ``nas --help`` reads the samplers module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

Row = tuple[Any, ...] | None
"""A trial's parameters in internal representation, in the search space's order; None where the
trial lacks one of them (Optuna leaves such a trial out)."""


class LeanTPESampler(optuna.samplers.TPESampler):
    """:class:`optuna.samplers.TPESampler` with the finished trials' converted parameters kept
    (see the module). The fence around TPE's internals: the method it overrides and the one it
    calls are Optuna's private ones; where a release has renamed either, Optuna's own conversion
    stays in force (only the speed is lost) and tests/test_lean_tpe.py fails so that we notice.
    Tested with Optuna 5.0."""

    def __init__(self, **kw: Any) -> None:  # noqa: ANN401
        super().__init__(**kw)
        # (study name, search space) -> trial number -> row; finished trials only
        self._rows: dict[tuple[str, tuple[tuple[str, BaseDistribution], ...]], dict[int, Row]] = {}
        self.lean = callable(getattr(optuna.samplers.TPESampler, "_get_internal_repr", None)) and callable(
            getattr(self, "_get_params", None))

    def _get_internal_repr(self, trials: list[FrozenTrial], search_space: dict[str, BaseDistribution],
                           study: optuna.Study) -> dict[str, np.ndarray]:
        """Optuna's arrays (one per parameter, the trials that hold every parameter, in order)."""
        if not self.lean:
            return super()._get_internal_repr(trials, search_space, study)
        space = tuple(search_space.items())
        known = self._rows.setdefault((study.study_name, space), {})
        rows = []
        for trial in trials:
            if not trial.state.is_finished():  # a running trial's parameters may still grow
                row = self._row(trial, space, study)
            elif trial.number in known:
                row = known[trial.number]
            else:
                row = known[trial.number] = self._row(trial, space, study)
            if row is not None:
                rows.append(row)
        columns = list(zip(*rows)) if rows else [() for _ in space]
        return {name: np.asarray(column) for (name, _), column in zip(space, columns)}

    def _row(self, trial: FrozenTrial, space: tuple[tuple[str, BaseDistribution], ...], study: optuna.Study) -> Row:
        params = self._get_params(trial, study)
        if not all(name in params for name, _ in space):
            return None
        return tuple(distribution.to_internal_repr(params[name]) for name, distribution in space)
