"""Liveness of trials shared by many workers: heartbeats and stale-trial recovery.

Optuna's storages are the distributed engine; this module adds what an ask/tell loop across
processes and hosts needs, for every storage alike (journal files have no heartbeat of their
own, and Optuna's RDB heartbeat runs only inside ``study.optimize``):

* **Heartbeat.** Each running trial carries a system attribute ``nas:heartbeat`` (host, pid,
  time) refreshed by a thread every ``HEARTBEAT_INTERVAL`` seconds.
* **Stale trials.** A RUNNING trial whose heartbeat is older than ``stale_after`` seconds, or
  whose process is gone (same host, pid not alive), is failed with the reason "worker lost", and
  its candidate is enqueued again once (a retry of a retry is not made).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Container

import optuna
from optuna.trial import TrialState

from .defaults import DEFAULT_STALE_AFTER
from .records import HEARTBEAT_KEY, TrialRecord
from .storage import StudyHandle

HEARTBEAT_INTERVAL = 5.0


def pid_alive(pid: int, started: int | None = None) -> bool:
    """Whether process ``pid`` lives and, where ``started`` is known, is the process that started
    then: pids are reused, and a thread's id is one too (2^15 ids here; the suite's heartbeat and
    worker threads wrap them within a run), so a dead worker's pid can answer for another task."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or process_start(pid) in (None, started)


def process_start(pid: int | str = "self") -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of stat; fields[0] is field 3 (the state)
    except (OSError, IndexError, ValueError):
        return None


PROCESS_START = process_start()  # this process's, written with every heartbeat


class Heartbeat:
    """Refreshes a running trial's liveness record in the background until stopped."""

    def __init__(self, handle: StudyHandle, trial_id: int, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.storage = handle.storage
        self.trial_id = trial_id
        self.interval = interval
        self._stop = threading.Event()
        self.beat()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{trial_id}")
        self._thread.start()

    def beat(self) -> None:
        self.storage.set_trial_system_attr(self.trial_id, HEARTBEAT_KEY, {
            "host": socket.gethostname(), "pid": os.getpid(), "started": PROCESS_START, "time": time.time()})

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # the trial was told meanwhile
            except Exception:  # noqa: BLE001 - the storage stayed away past the retry window:
                continue  # keep beating; the loop itself decides what an outage means

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)


def is_stale(t: optuna.trial.FrozenTrial, stale_after: float, now: float | None = None,
             by_age: bool = True) -> bool:
    if t.state != TrialState.RUNNING:
        return False
    now = time.time() if now is None else now
    beat = t.system_attrs.get(HEARTBEAT_KEY)
    if beat is None:
        started = t.datetime_start.timestamp() if t.datetime_start else now
        return now - started > stale_after
    if beat.get("host") == socket.gethostname() and not pid_alive(int(beat.get("pid", -1)), beat.get("started")):
        return True
    return by_age and now - float(beat.get("time", 0)) > stale_after


def fail_stale_trials(handle: StudyHandle, stale_after: float = DEFAULT_STALE_AFTER,
                      trials: list[optuna.trial.FrozenTrial] | None = None, spare: Container[int] = ()) -> list[int]:
    """Fail RUNNING trials whose worker is gone and enqueue each candidate again once.

    ``trials``: a snapshot already read from the storage (saves a read per loop iteration);
    ``spare``: trial numbers not to judge now (their kept results are being put back).
    """
    trials = handle.study.get_trials(deepcopy=False) if trials is None else trials
    # After a storage outage nobody's heartbeat could be written: judge by age only once
    # stale_after seconds have passed since the storage came back.
    recovered_within = getattr(handle.storage, "recovered_within", None)  # nas.study.store.retrying's wrapper
    by_age = recovered_within is None or not recovered_within(stale_after)
    lost = f"worker lost (no heartbeat for {stale_after:g}s or process gone)"
    return [t.number for t in trials
            if t.number not in spare and is_stale(t, stale_after, by_age=by_age) and _fail_lost(handle, t, lost)]


def beaten_here(t: optuna.trial.FrozenTrial) -> bool:
    """Whether this process beats ``t``'s heartbeat (or did, if a process of the same pid died)."""
    beat = t.system_attrs.get(HEARTBEAT_KEY)
    return (t.state == TrialState.RUNNING and beat is not None and beat.get("host") == socket.gethostname()
            and int(beat.get("pid", -1)) == os.getpid())


def fail_orphaned_trials(handle: StudyHandle, trials: list[optuna.trial.FrozenTrial]) -> list[int]:
    """Fail RUNNING trials whose heartbeat this process beats, and enqueue each candidate again
    once, as for a lost worker. Called by a loop that holds no trial and would otherwise wait.

    A loop that waits for the study's last trials to finish elsewhere must never wait on one of
    its own process: nothing else will run it, and its heartbeat keeps it fresh, so it would never
    turn stale (issue 36). One process runs one loop per study (several workers are processes),
    so such a trial is an orphan: asked and never run by a loop that lost it, or left by an
    earlier loop of this process (a storage outage ended it while the trial was running)."""
    reason = "orphaned (asked by this process and run by no loop)"
    return [t.number for t in trials if beaten_here(t) and _fail_lost(handle, t, reason)]


def _fail_lost(handle: StudyHandle, t: optuna.trial.FrozenTrial, reason: str) -> bool:
    """Fail ``t`` with ``reason`` and enqueue its candidate again once (a retry of a retry is not
    made); False if another worker got there first."""
    storage = handle.storage
    try:
        trial_id = handle.trial_id(t.number)
        for k, v in TrialRecord(fail_reason=reason).to_attrs().items():
            storage.set_trial_user_attr(trial_id, k, v)
        if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            return False
    except Exception:  # noqa: BLE001 - another worker got there first
        return False
    record = TrialRecord.from_trial(t)
    if record.retry_of is None and (t.params or record.budget_epochs is not None):
        retry = record.job() if not t.params else TrialRecord()
        retry.retry_of = t.number
        handle.study.enqueue_trial(t.params, user_attrs=retry.to_attrs())
    return True
