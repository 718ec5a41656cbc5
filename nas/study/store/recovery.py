"""Finished results kept through a storage outage longer than the retry window.

When the storage does not come back within ``--storage-retry`` seconds
(:mod:`nas.study.store.retrying`), the loop writes the trial it finished (parameters and their
distributions, values, state and record) to ``results/<study>/recovery/`` on the local disk and
the command exits with code 3 and one line naming the file. The next run of the same command, in
the same folder, puts each such result back into the study before asking for anything new,
exactly once: a result whose trial reached the study after all (the tell had committed) is
dropped, and a retry of the lost trial that nobody has started is cancelled. Every loop looks for
such results before it judges trials stale (a worker of this host may have written one since),
and spares the trials whose results another process is putting back at that moment.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.trial import TrialState

from ...errors import UserError
from .liveness import pid_alive
from .records import TrialRecord
from .storage import StudyHandle, study_dir

RECOVERED_SURPLUS = "surplus: the lost trial's result was recovered"


class StorageLost(UserError):
    """The storage stayed away past the retry window: exit code 3, not 2 (nothing was wrong
    with what the user gave; rerunning the same command later resumes)."""

    exit_code = 3


def recovery_dir(study_name: str) -> Path:
    return study_dir(study_name) / "recovery"


def save_result(study_name: str, trial: optuna.Trial, state: TrialState, values: list[float] | None,
                record: TrialRecord) -> Path:
    """Write one finished trial to the recovery folder (atomically) and return the file."""
    folder = recovery_dir(study_name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-{os.getpid()}-trial{trial.number}.json"
    data = {"study": study_name, "trial_number": trial.number, "state": state.name, "values": values,
            "params": trial.params,
            "distributions": {k: distribution_to_json(d) for k, d in trial.distributions.items()},
            "user_attrs": {**trial.user_attrs, **record.to_attrs()}, "time": time.time()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, default=str))
    tmp.replace(path)
    return path


def reinsert(handle: StudyHandle, say: Callable[[str], None] = print) -> int:
    """Put the recovery folder's results back into the study; returns how many were added."""
    folder = recovery_dir(handle.name)
    if not folder.is_dir():
        return 0
    added = 0
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.claimed*")):
        claimed = _claim(path)
        if claimed is None:
            continue  # another worker of this run took it
        data = json.loads(claimed.read_text())
        if data.get("study") == handle.name and _add_once(handle, data):
            added += 1
        claimed.unlink()
    if added:
        say(f"recovered {added} finished trial(s) of study {handle.name!r} kept through a storage outage ({folder})")
    return added


def claimed_elsewhere(study_name: str) -> set[int]:
    """Trial numbers whose kept results another live process of this host is putting back right
    now: liveness spares those trials, or a worker could retry one in the instant before its result
    lands, and the result would then be dropped as a duplicate (seen once in 12 runs of
    tests/test_outage.py's two-worker PostgreSQL outage)."""
    folder = recovery_dir(study_name)
    if not folder.is_dir():
        return set()
    numbers = set()
    for path in folder.glob("*.claimed*"):
        name, _, pid = path.name.rpartition(".claimed")
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            numbers.add(int(name.split("-trial")[-1].split(".json")[0]))
    return numbers


def _claim(path: Path) -> Path | None:
    """Rename the file to this process's claim (atomic: of several workers one wins). A claim
    left by a process that died before finishing is taken over."""
    if ".claimed" in path.name:
        pid = int(path.name.rsplit(".claimed", 1)[1] or -1)
        if pid_alive(pid):
            return None
    target = path.with_name(f"{path.name.split('.json')[0]}.json.claimed{os.getpid()}")
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    return target


def _add_once(handle: StudyHandle, data: dict) -> bool:
    study = handle.study
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    original = trials.get(int(data["trial_number"]))
    if original is not None and original.state in (TrialState.COMPLETE, TrialState.FAIL) \
            and not TrialRecord.from_trial(original).uncounted_failure:
        return False  # the tell reached the storage before it went away
    retries = [t for t in trials.values() if t.user_attrs.get("retry_of") == data["trial_number"]]
    if any(t.state in (TrialState.RUNNING, TrialState.COMPLETE) for t in retries):
        return False  # another worker is evaluating it again (or has): one result per candidate
    for t in retries:  # waiting, never started: cancel it
        handle.storage.set_trial_user_attr(handle.trial_id(t.number), "fail_reason", RECOVERED_SURPLUS)
        handle.storage.set_trial_state_values(handle.trial_id(t.number), TrialState.FAIL)
    if original is not None and original.state == TrialState.RUNNING:
        handle.storage.set_trial_user_attr(handle.trial_id(original.number), "fail_reason",
                                           "worker lost (storage outage; its result was recovered)")
        handle.storage.set_trial_state_values(handle.trial_id(original.number), TrialState.FAIL)
    state = TrialState[data["state"]]
    study.add_trial(optuna.trial.create_trial(
        state=state, values=data["values"] if state == TrialState.COMPLETE else None, params=data["params"],
        distributions={k: json_to_distribution(v) for k, v in data["distributions"].items()},
        user_attrs={**data["user_attrs"], "recovered_from": data["trial_number"]}))
    return True
