"""The product's parts with one decision undone, for side-by-side benchmarks only: each is the
baseline a default was measured against (BENCHMARKS.md §2). Product code keeps no switch for them."""

from __future__ import annotations

from collections.abc import Callable

import optuna

from nas.study.run.overlapped import OverlappedLoop
from nas.study.run.steps import Loop, Outcome, TrialContext
from nas.study.store.write_buffer import WriteBuffer


class OptunasWrites(WriteBuffer):
    """Every write sent at once, one transaction per field, as Optuna's storages do: the write
    buffer's baseline (§2, storage table)."""

    def _holding(self, trial_id: int) -> None:
        return None


class SavesInLoopThread(OverlappedLoop):
    """The overlapped loop with the saves and tells made in the loop's own thread (only the asks
    on the study thread): the study thread's baseline (§2, "the study thread")."""

    def later(self, job: Callable[[], None]) -> Callable[[], None]:
        return job

    def tell(self, trial: optuna.Trial, context: TrialContext, outcome: Outcome) -> None:
        Loop.tell(self, trial, context, outcome)
        self.report(trial.number, context, outcome.state)
