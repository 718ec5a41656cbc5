"""The study's side of an overlapped loop in one background thread: asks, saves and tells.

GP's ask costs ~40-70 ms on this machine (BENCHMARKS.md §2), and every save or tell is a storage
transaction (~2 ms on a journal file, more on SQLite or PostgreSQL): on a GPU, where a demo trial
trains in ~0.25 s, that is a large share of the loop. With ``--overlap-sampling`` (the default on
a GPU) the loop hands that work to a :class:`StudyThread` and goes on training:

* the next trial is asked for (:class:`AskAhead`) as soon as the current candidate is saved, the
  moment its training starts. The current trial is RUNNING with its parameters written by then,
  so the sampler sees it as pending (GP conditions on running trials), as it would a trial of
  another worker; the trial asked ahead gets its heartbeat at once, so that no other worker takes
  it for a lost one while it waits;
* the save of a candidate before its training, and the tell after it, run there too
  (:meth:`StudyThread.submit`), so that the loop's own thread only samples and trains.

One thread runs the jobs in the order given, so that the storage sees what a serial loop would
write, in the same order: a trial is told before the ask that follows it, and ask and tell never
run at once. A failed job (a storage outage past its retry window) is raised again in the loop's
thread by the next :meth:`StudyThread.settle` or :meth:`AskAhead.take`; Ctrl-C waits for the jobs
given, so a finished trial's tell is never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

import optuna

from ..train.thread_loan import lend_thread
from .liveness import Heartbeat
from .records import INTERRUPTED, TrialRecord
from .storage import StudyHandle

T = TypeVar("T")


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


class StudyThread:
    """One daemon thread that runs the jobs it is given, in order (see the module). Each job
    holds one of the trainer's CPU threads while it runs (nas.train.thread_loan)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future]] = queue.SimpleQueue()
        self._given: list[Future] = []
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._given.append(future)
        self._jobs.put((job, future))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="nas-study")
            self._thread.start()
        return future

    def later(self, job: Callable[[], object]) -> Callable[[], None]:
        """``job`` as a call that gives it to this thread instead of running it."""
        return lambda: self.submit(job) and None

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                with lend_thread():  # the trainer trains on one thread fewer meanwhile
                    future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - raised again in the loop's thread
                future.set_exception(exc)

    def settle(self) -> None:
        """Wait for every job given so far; raise the first failure among them."""
        given, self._given = self._given, []
        failure = None
        for future in given:
            error = future.exception()
            failure = failure or error
        if failure is not None:
            raise failure


class AskAhead:
    """At most one ask in flight on a :class:`StudyThread`; :meth:`take` waits for it."""

    def __init__(self, handle: StudyHandle, thread: StudyThread) -> None:
        self.handle = handle
        self.thread = thread
        self._asked: Future[Asked] | None = None

    def start(self) -> None:
        """Ask in the background, unless an ask is already in flight or waiting to be taken."""
        if self._asked is not None:
            return

        def job() -> Asked:
            asked = ask(self.handle)
            # Optuna samples a trial's relative parameters (GP's and multivariate TPE's whole
            # proposal) lazily, at its first suggest: do it here, beside the training.
            asked.trial.relative_params  # noqa: B018 - evaluated for its effect
            return asked

        self._asked = self.thread.submit(job)

    def take(self) -> Asked | None:
        """The trial asked ahead (waiting for the ask to finish), or None if none was started."""
        if self._asked is None:
            return None
        asked, self._asked = self._asked, None
        return asked.result()
