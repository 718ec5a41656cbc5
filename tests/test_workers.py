"""Many workers on one study, with real processes: exact totals, dead workers, PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas import Genotype
from nas.report.results import trials_frame
from nas.study.run.steps import evaluated_count
from nas.study.store.storage import StudyHandle, open_storage
from nas.study.store.liveness import HEARTBEAT_KEY, fail_stale_trials, is_stale

from conftest import ROOT
from search_helpers import write_space

RUN = [sys.executable, str(ROOT / "run_search.py")]
POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("NAS_REQUIRE_POSTGRES") == "1"


def search(space: Path, trials: int, *extra: str, study: str = "w", epochs: str = "1") -> list[str]:
    return [*RUN, "search", "--space", str(space), "--dataset", "digits", "--trials", str(trials),
            "--epochs", epochs, "--study", study, "--no-progress", "--sampler", "random", *extra]


def journal_study(tmp_path: Path, name: str = "w") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(f"journal:{tmp_path / 'results' / name / 'journal.log'}", name))


def check_consistent(study: optuna.Study, total: int) -> None:
    assert evaluated_count(study) == total
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    frame = trials_frame(study)
    complete = frame[frame["state"] == "COMPLETE"]
    assert complete["accuracy"].notna().all() and complete["flops"].notna().all()
    assert not any(t.state == TrialState.RUNNING for t in study.trials)


def test_four_workers_share_one_study_and_stop_at_exactly_the_total(tmp_path):
    out = subprocess.run(search(write_space(tmp_path), 40, "--workers", "4"), cwd=tmp_path,
                         capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "results/w/journal.log").exists()  # the default for several workers
    study = journal_study(tmp_path)
    check_consistent(study, 40)
    reasons = Counter(str(t.user_attrs.get("fail_reason", ""))[:7] for t in study.trials)
    assert set(reasons) <= {"", "surplus"}
    pids = {t.system_attrs[HEARTBEAT_KEY]["pid"] for t in study.trials if HEARTBEAT_KEY in t.system_attrs}
    assert len(pids) >= 2  # really several processes


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_worker_killed_mid_trial_is_detected_retried_and_nothing_is_lost(tmp_path):
    space = write_space(tmp_path)
    proc = subprocess.Popen(search(space, 16, "--workers", "2", epochs="3"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = tmp_path / "results/w/journal.log"
    deadline = time.time() + 120
    victim = None
    while time.time() < deadline and victim is None:
        time.sleep(0.5)
        if not journal.exists():
            continue
        try:
            study = journal_study(tmp_path)
        except KeyError:  # the journal file is there, the study not yet
            continue
        running = [t for t in study.trials if t.state == TrialState.RUNNING and HEARTBEAT_KEY in t.system_attrs]
        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        workers = [p for p in _children(proc.pid) if p in {t.system_attrs[HEARTBEAT_KEY]["pid"] for t in running}]
        if len(done) >= 2 and workers:
            victim = workers[0]
            before = {t.number: t.values for t in done}
            os.kill(victim, signal.SIGKILL)
    assert victim is not None, "no worker was caught mid-trial"
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output[-2000:]
    study = journal_study(tmp_path)
    lost = [t for t in study.trials if "worker lost" in str(t.user_attrs.get("fail_reason"))]
    assert len(lost) == 1
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == lost[0].number]
    assert len(retries) == 1 and retries[0].params == lost[0].params  # the same candidate, once
    assert all(study.trials[n].values == v for n, v in before.items())
    check_consistent(study, 16)
    # A restarted command with a larger total finishes exactly that total.
    out = subprocess.run(search(space, 18, "--workers", "2"), cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    check_consistent(journal_study(tmp_path), 18)


def test_stale_detection_by_heartbeat_age_and_dead_pid(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 'j.log'}", "s")
    study = optuna.create_study(storage=storage, study_name="s")
    handle = StudyHandle(study, storage)
    fresh, old, dead = (study.ask() for _ in range(3))
    for t in (fresh, old, dead):
        t.suggest_categorical("x", [1, 2])

    def beat(trial, **info):
        storage.set_trial_system_attr(handle.trial_id(trial.number), HEARTBEAT_KEY, info)
    beat(fresh, host="elsewhere", pid=1, time=time.time())
    beat(old, host="elsewhere", pid=1, time=time.time() - 500)
    import socket
    beat(dead, host=socket.gethostname(), pid=2 ** 22 + 7, time=time.time())
    frozen = {t.number: t for t in study.get_trials()}
    assert not is_stale(frozen[fresh.number], 60)
    assert is_stale(frozen[old.number], 60) and is_stale(frozen[dead.number], 60)
    assert sorted(fail_stale_trials(handle, 60)) == sorted([old.number, dead.number])
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 2 and all("retry_of" in t.user_attrs for t in waiting)
    assert fail_stale_trials(handle, 60) == []  # done once


@pytest.mark.skipif(not POSTGRES_URL and not REQUIRE_POSTGRES,
                    reason="set NAS_TEST_POSTGRES_URL to a PostgreSQL server (CI starts one)")
def test_two_workers_against_a_real_postgresql_server(tmp_path):
    assert POSTGRES_URL, "NAS_REQUIRE_POSTGRES=1 but NAS_TEST_POSTGRES_URL is not set"
    name = f"pg-{uuid.uuid4().hex[:8]}"
    out = subprocess.run(search(write_space(tmp_path), 8, "--workers", "2", "--storage", POSTGRES_URL, study=name),
                         cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    study = optuna.load_study(study_name=name, storage=POSTGRES_URL)
    try:
        check_consistent(study, 8)
        pids = {t.system_attrs[HEARTBEAT_KEY]["pid"] for t in study.trials if HEARTBEAT_KEY in t.system_attrs}
        assert len(pids) == 2
    finally:
        optuna.delete_study(study_name=name, storage=POSTGRES_URL)


def test_scale_with_two_workers_trains_each_grid_point_once(tmp_path):
    space = write_space(tmp_path)
    out = subprocess.run(search(space, 3, "--workers", "2"), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    out = subprocess.run([*RUN, "scale", "--study", "w", "--arch", "best", "--grid-step", "0.2",
                          "--phi-max", "2", "--workers", "2"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "best: alpha=" in out.stdout
    from nas.study.scale import GridSettings
    grid = optuna.load_study(study_name="w-scale", storage=open_storage(f"journal:{tmp_path / 'results/w/journal.log'}", "w"))
    done = [t for t in grid.trials if t.state == TrialState.COMPLETE]
    base = Genotype.from_json(optuna.load_study(study_name="w", storage=open_storage(
        f"journal:{tmp_path / 'results/w/journal.log'}", "w")).user_attrs["scaling"]["base_genotype"])
    assert sorted(t.params["point"] for t in done) == list(range(len(GridSettings(2.0, 0.2).plan(base).points)))
    assert (tmp_path / "results/w/scaled/phi2.json").exists()
