"""Sampling overlapped with training: the next trial is asked for while the current one trains.

GP's ask costs ~0.3 s at 100 trials on this machine (BENCHMARKS.md §2), a quarter of the demo's
wall time when it runs between trainings. :class:`AskAhead` runs it in a background thread as
soon as the current candidate is saved (the moment its training starts), so that the sampler
works while the trainer does. The current trial is RUNNING with its parameters written by then,
so the sampler sees it as pending (GP conditions on running trials, TPE's constant liar treats
them as bad), as it would a trial of another worker. The asked-ahead trial gets its heartbeat at
once, so that no other worker takes it for a lost one while it waits. The loop collects it
before telling the current trial, so that ask and tell never run at the same time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import optuna

from ..train.thread_loan import lend_thread
from .liveness import Heartbeat
from .records import INTERRUPTED, TrialRecord
from .storage import StudyHandle


@dataclass
class Asked:
    """A trial asked for, with what the loop needs to run it."""

    trial: optuna.Trial
    trial_id: int
    heartbeat: Heartbeat


def ask(handle: StudyHandle) -> Asked:
    """A new trial with its heartbeat running. Ctrl-C while the two are set up fails the trial
    here: the loop only learns of it when this returns."""
    trial = handle.study.ask()
    try:
        trial_id = handle.trial_id(trial.number)
        return Asked(trial, trial_id, Heartbeat(handle, trial_id))
    except KeyboardInterrupt:
        for key, value in TrialRecord(fail_reason=INTERRUPTED).to_attrs().items():
            trial.set_user_attr(key, value)
        handle.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise


class AskAhead:
    """At most one ask in flight in a background thread; :meth:`take` waits for it."""

    def __init__(self, handle: StudyHandle) -> None:
        self.handle = handle
        self._thread: threading.Thread | None = None
        self._asked: Asked | None = None
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Ask in the background, unless an ask is already in flight or waiting to be taken."""
        if self._thread is not None:
            return

        def run() -> None:
            try:
                with lend_thread():  # the trainer trains on one thread fewer meanwhile
                    asked = ask(self.handle)
                    # Optuna samples a trial's relative parameters (GP's and multivariate TPE's
                    # whole proposal) lazily, at its first suggest: do it here, beside the training.
                    asked.trial.relative_params  # noqa: B018 - evaluated for its effect
                self._asked = asked
            except BaseException as exc:  # noqa: BLE001 - raised again in the loop's thread by take()
                self._error = exc

        self._thread = threading.Thread(target=run, daemon=True, name="nas-ask-ahead")
        self._thread.start()

    def take(self) -> Asked | None:
        """The trial asked ahead (waiting for the ask to finish), or None if none was started."""
        if self._thread is None:
            return None
        self._thread.join()
        self._thread = None
        asked, error = self._asked, self._error
        self._asked = self._error = None
        if error is not None:
            raise error
        return asked
