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

import optuna
from optuna.trial import TrialState

from .records import HEARTBEAT_KEY, TrialRecord
from .retrying import recovered_within
from .storage import StudyHandle

HEARTBEAT_INTERVAL = 5.0
DEFAULT_STALE_AFTER = 60.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            "host": socket.gethostname(), "pid": os.getpid(), "time": time.time()})

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
    if beat.get("host") == socket.gethostname() and not pid_alive(int(beat.get("pid", -1))):
        return True
    return by_age and now - float(beat.get("time", 0)) > stale_after


def fail_stale_trials(handle: StudyHandle, stale_after: float = DEFAULT_STALE_AFTER,
                      trials: list[optuna.trial.FrozenTrial] | None = None) -> list[int]:
    """Fail RUNNING trials whose worker is gone and enqueue each candidate again once.

    ``trials``: a snapshot already read from the storage (saves a read per loop iteration).
    """
    failed = []
    storage = handle.storage
    trials = handle.study.get_trials(deepcopy=False) if trials is None else trials
    lost = TrialRecord(fail_reason=f"worker lost (no heartbeat for {stale_after:g}s or process gone)")
    # After a storage outage nobody's heartbeat could be written: judge by age only once
    # stale_after seconds have passed since the storage came back.
    by_age = not recovered_within(stale_after)
    for t in trials:
        if not is_stale(t, stale_after, by_age=by_age):
            continue
        try:
            trial_id = handle.trial_id(t.number)
            for k, v in lost.to_attrs().items():
                storage.set_trial_user_attr(trial_id, k, v)
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except Exception:  # noqa: BLE001 - another worker got there first
            continue
        failed.append(t.number)
        record = TrialRecord.from_trial(t)
        if record.retry_of is None and (t.params or record.budget_epochs is not None):
            retry = record.job() if not t.params else TrialRecord()
            retry.retry_of = t.number
            handle.study.enqueue_trial(t.params, user_attrs=retry.to_attrs())
    return failed
