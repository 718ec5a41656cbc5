"""The overlapped loop, the default on a GPU: the next trial is asked for while the current one
trains, and the saves and tells run on the study thread too (nas.study.run.prefetch), so that the
loop's own thread only samples and trains.

One thread runs the study's jobs in the order a serial loop would make them: the candidate's save
before training, the ask ahead (started at that save: training starts), the tell after it. The
ask ahead is taken before the tell is given, so ask and tell never run at once, and an ask starts
only while a candidate is evaluated (:meth:`AskAhead.open` .. :meth:`AskAhead.take`): a save made
later, by the trial's tell, starts none, so that every ask is taken (issue 36). With a trainer that
sleeps 0.25 s (a GPU's graphed demo trial), journal file: 1.2-1.3% of the loop outside the trainer
with the saves and tells on the study thread against 1.7% in the loop's own thread (SQLite ~6.9
against ~8.1%; BENCHMARKS.md §2, "the study thread")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from ..store.recovery import StorageLost
from ..store.retrying import StorageUnavailable
from .prefetch import AskAhead, Asked, StudyThread
from .steps import Loop, Outcome, TrialContext, flusher


@dataclass
class Told:
    """A trial whose tell runs on the study thread."""

    number: int
    context: TrialContext
    state: TrialState


class OverlappedLoop(Loop):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.thread = StudyThread()
        self.ahead = AskAhead(self.handle, self.thread, self.held)
        self.told: Told | None = None  # the last trial, its tell given to the study thread

    def body(self) -> None:
        current: Asked | None = None  # a trial asked ahead while the last one trained
        while True:
            if current is None:
                self.collect()  # exact counts before asking, waiting or stopping
            snapshot, done, running = self.counts()
            if self.finished(done):
                self.collect()
                return
            if current is None and done + running >= self.settings.total:
                self.wait_for_others(snapshot)
                continue
            # another trial is wanted beyond this one (the one asked ahead is counted running)
            wanted = done + running + (current is None) < self.settings.total
            current = self.step(current or self.ask(), snapshot, wanted)

    def step(self, asked: Asked, snapshot: list, wanted: bool) -> Asked | None:  # noqa: ANN401 - FrozenTrials
        """Evaluate ``asked``, asking ahead once its training starts; give its tell to the study
        thread. Returns the trial asked ahead, or None."""
        settings = self.settings

        def ask_next() -> None:
            if wanted and (settings.max_asks is None or self.asks < settings.max_asks):
                self.ahead.start()

        context = TrialContext(asked.trial, snapshot, flush=self.later(flusher(self.handle, asked.trial_id)),
                               on_save=ask_next)
        outcome = self.outcome(asked, context, before=self.ahead.open)  # its first save may ask ahead
        try:
            following = self.ahead.take()  # before telling: ask and tell never run at once
            self.collect()  # the trial before, told on the study thread before that ask
        except (StorageUnavailable, StorageLost):
            super().tell(asked.trial, context, outcome)  # keep this result too before leaving
            self.held.release(asked)
            raise
        self.asks += following is not None
        self.tell(asked.trial, context, outcome)
        self.held.release(asked)
        return following

    def later(self, job: Callable[[], None]) -> Callable[[], None]:
        """``job`` as a call that gives it to the study thread."""
        return self.thread.later(job)

    def tell(self, trial: optuna.Trial, context: TrialContext, outcome: Outcome) -> None:
        """On the study thread; reported once it has run (:meth:`collect`)."""
        self.thread.submit(lambda: Loop.tell(self, trial, context, outcome))
        self.told = Told(trial.number, context, outcome.state)

    def collect(self) -> None:
        """Wait for the study thread's saves and tells (raising any failure), then report the
        trial told."""
        self.thread.settle()
        told, self.told = self.told, None
        if told is not None:
            self.report(told.number, told.context, told.state)

    def interrupted(self) -> None:
        """Ctrl-C: the tells already given finish (a finished trial is never lost), an ask in
        flight lands in held, and every trial held is failed."""
        try:
            self.thread.settle()
        except Exception:  # noqa: BLE001 - a tell the storage refused: its result went to the recovery file
            pass
        try:
            self.ahead.take()
        except Exception:  # noqa: BLE001 - the ask itself failed: nothing to fail
            pass
        super().interrupted()

    def close(self) -> None:
        self.thread.close()
