"""Many workers on one study: liveness, stale-trial recovery and an exact study-wide total.

Optuna's storages are the distributed engine; this module adds three things a NAS search needs:

* **Liveness.** Each running trial carries a heartbeat (system attribute ``nas:heartbeat``:
  host, pid, time) refreshed by a thread every ``HEARTBEAT_INTERVAL`` seconds. One mechanism for
  every storage: journal files have no heartbeat of their own, and Optuna's RDB heartbeat runs
  only inside ``study.optimize``, not in an ask/tell loop.
* **Stale trials.** Before asking, a worker fails RUNNING trials whose heartbeat is older than
  ``stale_after`` seconds, or whose process is gone (same host, pid not alive), with the reason
  "worker lost", and enqueues that candidate again once (a retry of a retry is not made).
* **Exact totals.** A worker asks only while evaluated + running trials are below the total;
  after asking it checks its trial's rank among them, and a trial beyond the total (two workers
  asked at the same instant) is failed at once as "surplus", untrained and uncounted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

HEARTBEAT_KEY = "nas:heartbeat"
HEARTBEAT_INTERVAL = 5.0
DEFAULT_STALE_AFTER = 60.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Refreshes a trial's liveness record in the background until stopped."""

    def __init__(self, study: optuna.Study, trial_id: int, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.storage = study._storage
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
            except Exception:  # noqa: BLE001 - the trial finished or storage hiccup: stop quietly
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)


def is_stale(t: optuna.trial.FrozenTrial, stale_after: float, now: float | None = None) -> bool:
    if t.state != TrialState.RUNNING:
        return False
    now = time.time() if now is None else now
    beat = t.system_attrs.get(HEARTBEAT_KEY)
    if beat is None:
        started = t.datetime_start.timestamp() if t.datetime_start else now
        return now - started > stale_after
    if beat.get("host") == socket.gethostname() and not _pid_alive(int(beat.get("pid", -1))):
        return True
    return now - float(beat.get("time", 0)) > stale_after


def fail_stale_trials(study: optuna.Study, stale_after: float = DEFAULT_STALE_AFTER,
                      trials: list[optuna.trial.FrozenTrial] | None = None) -> list[int]:
    """Fail RUNNING trials whose worker is gone and enqueue each candidate again once.

    ``trials``: a snapshot already read from the storage (saves a read per loop iteration).
    """
    failed = []
    storage = study._storage
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    for t in trials:
        if not is_stale(t, stale_after):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "fail_reason",
                                        f"worker lost (no heartbeat for {stale_after:g}s or process gone)")
            if not storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                continue
        except Exception:  # noqa: BLE001 - another worker got there first
            continue
        failed.append(t.number)
        if "retry_of" not in t.user_attrs and t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    return failed


def slots_taken(study: optuna.Study, counts: Callable[[optuna.trial.FrozenTrial], bool],
                below_number: int | None = None,
                trials: list[optuna.trial.FrozenTrial] | None = None) -> tuple[int, int]:
    """(evaluated trials, running trials), optionally only those numbered below ``below_number``."""
    done = running = 0
    for t in study.get_trials(deepcopy=False) if trials is None else trials:
        if below_number is not None and t.number >= below_number:
            continue
        if t.state == TrialState.RUNNING:
            running += 1
        elif counts(t):
            done += 1
    return done, running


def assign_devices(device: str, workers: int, gpu_ids: list[int] | None = None) -> list[str]:
    """Worker i's device: round-robin over the visible GPUs (or ``gpu_ids``), else the CPU."""
    import torch

    if device not in ("auto", "cuda") or not torch.cuda.is_available():
        return [device if device != "auto" else "cpu"] * workers
    ids = gpu_ids or list(range(torch.cuda.device_count()))
    return [f"cuda:{ids[i % len(ids)]}" for i in range(workers)]


def run_processes(target: Callable[..., None], devices: list[str],
                  make_args: Callable[[int, str, int], tuple]) -> list[int | None]:
    """Start one spawned process per device and wait for all; returns their exit codes.

    CPU threads are divided between the CPU processes. On Ctrl-C (which the terminal also sends
    to the children, so each fails its running trial) the children get 30 s to finish cleanly.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    cpu_workers = sum(d == "cpu" for d in devices)
    threads = max(1, (os.cpu_count() or 1) // max(1, cpu_workers))
    procs = [ctx.Process(target=target, args=make_args(i, d, threads if d == "cpu" else 2),
                         name=f"nas-worker-{i}") for i, d in enumerate(devices)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        raise
    return [p.exitcode for p in procs]
