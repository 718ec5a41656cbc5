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

Every trial a loop asks for, here or in its own thread, is in its :class:`Held` from the ask until
its tell is given: whatever ends the loop (Ctrl-C, an outage, an error) finds each one there and
fails or releases it, and an ask ahead starts only while a candidate is being evaluated
(:meth:`AskAhead.open` .. :meth:`AskAhead.take`). A trial that escaped both once hung a search:
a repeated genotype is reused without a save before training, so its first save was the one in
its tell, made after the loop had taken the ask ahead; the ask it started then was never taken,
its heartbeat kept it RUNNING, and the loop waited for "another worker" to finish it (issue 36).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

import optuna

from ...train.thread_loan import lend_thread
from ..store.interrupts import interrupts_held
from ..store.liveness import Heartbeat
from ..store.records import TrialRecord
from ..store.storage import StudyHandle

T = TypeVar("T")


@dataclass
class Asked:
    """A trial asked for, with what the loop needs to run it."""

    trial: optuna.Trial
    trial_id: int
    heartbeat: Heartbeat


class Held:
    """The trials one loop has asked for and not yet told: each is owned by exactly this loop from
    its ask until its tell is given (see the module). Thread-safe: asks ahead land from the study
    thread."""

    def __init__(self) -> None:
        self._asked: dict[int, Asked] = {}  # by trial number
        self._lock = threading.Lock()

    def add(self, asked: Asked) -> Asked:
        with self._lock:
            self._asked[asked.trial.number] = asked
        return asked

    def release(self, asked: Asked) -> None:
        """``asked`` is told (or its tell given to the study thread): stop its heartbeat, then
        forget it (Ctrl-C in between leaves it held, to be failed: a no-op once told)."""
        asked.heartbeat.stop()
        with self._lock:
            self._asked.pop(asked.trial.number, None)

    def all(self) -> list[Asked]:
        with self._lock:
            return list(self._asked.values())

    def fail_all(self, study: optuna.Study, reason: str) -> None:
        """Release every trial held and fail it with ``reason`` (uncounted: interrupted, surplus);
        one told already, or a storage gone, leaves nothing to add."""
        for asked in self.all():
            self.release(asked)
            try:
                for key, value in TrialRecord(fail_reason=reason).to_attrs().items():
                    asked.trial.set_user_attr(key, value)
                study.tell(asked.trial, state=optuna.trial.TrialState.FAIL)
            except Exception:  # noqa: BLE001
                pass

    def __len__(self) -> int:
        with self._lock:
            return len(self._asked)


def ask(handle: StudyHandle, held: Held) -> Asked:
    """A new trial with its heartbeat running, in ``held``. Ctrl-C is held back until it is there
    (nas.study.run.interrupts): the loop's handling then fails it with the rest of what it holds."""
    with interrupts_held():
        trial = handle.study.ask()
        trial_id = handle.trial_id(trial.number)
        return held.add(Asked(trial, trial_id, Heartbeat(handle, trial_id)))


class StudyThread:
    """One daemon thread that runs the jobs it is given, in order (see the module). Each job
    holds one of the trainer's CPU threads while it runs (nas.train.thread_loan). :meth:`close`
    ends it: an idle thread left behind would hold its last job, and with it the study's storage
    and a database connection, for the life of the process (one per search run in-process)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future] | None] = queue.SimpleQueue()
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
        while (given := self._jobs.get()) is not None:
            job, future = given
            try:
                with lend_thread():  # the trainer trains on one thread fewer meanwhile
                    future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - raised again in the loop's thread
                future.set_exception(exc)
            del given, job, future  # hold nothing while idle

    def close(self) -> None:
        """End the thread once the jobs given so far have run (it is not waited for)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

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
    """At most one ask in flight on a :class:`StudyThread`; :meth:`take` waits for it. An ask
    starts only between :meth:`open` and :meth:`take` (while the loop evaluates a candidate):
    a save made later, by the trial's tell, starts none, so that every ask is taken."""

    def __init__(self, handle: StudyHandle, thread: StudyThread, held: Held) -> None:
        self.handle = handle
        self.thread = thread
        self.held = held
        self._asked: Future[Asked] | None = None
        self._open = False
        self._lock = threading.Lock()  # start() may come from the study thread (a tell's save)

    def open(self) -> None:
        """A candidate's evaluation begins: its first save may ask ahead."""
        with self._lock:
            self._open = True

    def start(self) -> None:
        """Ask in the background, unless the window is closed or an ask is already in flight or
        waiting to be taken."""
        with self._lock:
            if not self._open or self._asked is not None:
                return

            def job() -> Asked:
                asked = ask(self.handle, self.held)
                # Optuna samples a trial's relative parameters (GP's and multivariate TPE's whole
                # proposal) lazily, at its first suggest: do it here, beside the training.
                asked.trial.relative_params  # noqa: B018 - evaluated for its effect
                return asked

            self._asked = self.thread.submit(job)

    def take(self) -> Asked | None:
        """Close the window; the trial asked ahead (waiting for the ask to finish), or None if
        none was started. The trial is in :class:`Held` already, whatever happens next."""
        with self._lock:
            self._open = False
            asked, self._asked = self._asked, None
        return asked.result() if asked is not None else None
