"""Random SIGKILLs of workers sharing one study: nothing finished is lost, the total is exact.

Four independent ``search`` processes share a journal-file study (and a PostgreSQL database
where ``NAS_TEST_POSTGRES_URL`` is set, as in CI). A driver SIGKILLs a random live worker at
random moments at least ``KILLS`` times and starts it again, then lets them finish. At the end the
study holds exactly the requested number of evaluated trials; every trial that had finished
before any kill is still there with the same values; and no candidate was trained to completion
twice except where a worker died after training but before reporting (bounded by the trials
failed as "worker lost"). ``NAS_CHAOS_SEED`` picks the driver's random moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from nas.study.store.liveness import HEARTBEAT_KEY
from nas.study.store.records import TrialRecord
from nas.study.store.storage import open_storage, study_exists

from test_workers import POSTGRES_URL, REQUIRE_POSTGRES, check_consistent, search
from search_helpers import write_space

WORKERS, KILLS, TOTAL = 4, 8, 24


def _snapshot(study: optuna.Study) -> dict[int, list[float] | None]:
    return {t.number: t.values for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE}


def run_chaos(tmp_path, storage_url: str, study_name: str, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    cmd = search(write_space(tmp_path), TOTAL, "--storage", storage_url, "--stale-after", "10",
                 study=study_name, epochs="0.3")
    logs = []

    def start() -> subprocess.Popen:
        logs.append(tmp_path / f"worker{len(logs)}.err")  # a file, not a pipe: a full pipe would block
        with open(logs[-1], "w") as err:
            return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    procs = [start() for _ in range(WORKERS)]
    storage = open_storage(storage_url, study_name)
    deadline = time.time() + 120
    while not study_exists(storage, study_name) and time.time() < deadline:
        time.sleep(0.5)  # the workers import torch and create the study
    while time.time() < deadline and not _snapshot(optuna.load_study(study_name=study_name, storage=storage)):
        time.sleep(0.5)  # kills start once a trial has finished: there is something to lose
    finished_before: dict[int, list[float] | None] = {}
    kills = 0
    deadline = time.time() + 240
    while kills < KILLS and time.time() < deadline:
        time.sleep(rng.uniform(0.5, 2.5))
        live = [i for i, p in enumerate(procs) if p.poll() is None]
        if not live:
            break  # every worker reached the total before all kills were made
        study = optuna.load_study(study_name=study_name, storage=storage)
        finished_before.update(_snapshot(study))
        training = {t.system_attrs[HEARTBEAT_KEY]["pid"] for t in study.get_trials(deepcopy=False)
                    if t.state == TrialState.RUNNING and HEARTBEAT_KEY in t.system_attrs}
        busy = [i for i in live if procs[i].pid in training]
        victim = rng.choice(busy or live)  # a worker mid-trial where there is one
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()  # reaped: its pid is gone, so its running trial reads as lost
        procs[victim] = start()
        kills += 1
    for p in procs:
        assert p.wait(timeout=300) == 0, "\n".join(log.read_text()[-1500:] for log in logs)
    study = optuna.load_study(study_name=study_name, storage=storage)
    check_consistent(study, TOTAL)
    after = _snapshot(study)
    assert all(after.get(n) == v for n, v in finished_before.items()), "a finished trial was lost or changed"
    records = [TrialRecord.from_trial(t) for t in study.trials]
    lost = sum("worker lost" in str(r.fail_reason) for r in records)
    trained = Counter(r.key for t, r in zip(study.trials, records) if t.state == TrialState.COMPLETE and r.trained)
    twice = sum(n - 1 for n in trained.values() if n > 1)
    assert twice <= lost, (twice, lost)
    report = {"kills": kills, "lost": lost, "trained_twice": twice, "finished_before_kills": len(finished_before)}
    print(f"chaos (seed {seed}): {report}")
    return report


def test_random_sigkills_of_four_workers_on_a_journal_file_lose_nothing(tmp_path):
    seed = int(os.environ.get("NAS_CHAOS_SEED", "0"))
    report = run_chaos(tmp_path, f"journal:{tmp_path / 'chaos.log'}", "chaos", seed)
    assert report["kills"] >= KILLS and report["finished_before_kills"] > 0 and report["lost"] >= 1


@pytest.mark.skipif(not POSTGRES_URL and not REQUIRE_POSTGRES,
                    reason="set NAS_TEST_POSTGRES_URL to a PostgreSQL server (CI starts one)")
def test_random_sigkills_of_four_workers_on_postgresql_lose_nothing(tmp_path):
    assert POSTGRES_URL, "NAS_REQUIRE_POSTGRES=1 but NAS_TEST_POSTGRES_URL is not set"
    name = f"chaos-{uuid.uuid4().hex[:8]}"
    try:
        report = run_chaos(tmp_path, POSTGRES_URL, name, int(os.environ.get("NAS_CHAOS_SEED", "0")))
        assert report["kills"] >= KILLS and report["finished_before_kills"] > 0 and report["lost"] >= 1
    finally:
        optuna.delete_study(study_name=name, storage=POSTGRES_URL)
