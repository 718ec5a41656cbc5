"""Storage outages: every call retried through a window; past it, finished results kept locally
(exit code 3) and put back by the next run; a real PostgreSQL restarted mid-search."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy.exc import OperationalError

from nas.study.run.loop import run_loop

from nas.study.run.settings import LoopSettings

from nas.study.run.steps import Outcome, evaluated_count
from nas.study.store.records import TrialRecord
from nas.study.store.recovery import StorageLost, recovery_dir
from nas.study.store.retrying import RetryingStorage, StorageUnavailable
from nas.study.store.storage import StudyHandle

from test_workers import POSTGRES_URL, REQUIRE_POSTGRES, check_consistent, search
from search_helpers import write_space

POSTGRES_CTL = os.environ.get("NAS_TEST_POSTGRES_CTL")  # e.g. "pg_ctlcluster 15 main" (.ci/run sets it)


class Flaky(optuna.storages.InMemoryStorage):
    """An in-memory storage that can be taken down: every call then raises what SQLAlchemy
    raises for a refused connection. ``drop_after_tell``: the next tell commits, then its
    connection drops (the caller sees an error for a write that landed)."""

    def __init__(self) -> None:
        super().__init__()
        self.down_until = 0.0
        self.drop_after_tell = False

    def _check(self) -> None:
        if time.time() < self.down_until:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def __getattribute__(self, name):  # noqa: ANN001, ANN204
        attr = super().__getattribute__(name)
        if callable(attr) and not name.startswith("_") and name not in ("down_until", "drop_after_tell"):
            def guarded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                super(Flaky, self).__getattribute__("_check")()
                result = attr(*args, **kwargs)
                if name == "set_trial_state_values" and self.drop_after_tell:
                    self.drop_after_tell = False
                    raise OperationalError("COMMIT", {}, ConnectionResetError("connection reset"))
                return result
            return guarded
        return attr


def _handle(flaky: Flaky, window: float, said: list[str]) -> StudyHandle:
    storage = RetryingStorage(flaky, window=window, say=said.append)
    study = optuna.create_study(storage=storage, study_name="o", directions=["maximize", "minimize"])
    return StudyHandle(study, storage)


def test_calls_ride_out_an_outage_shorter_than_the_window_and_a_landed_tell_counts_once():
    flaky, said = Flaky(), []
    handle = _handle(flaky, 10.0, said)
    trial = handle.study.ask()
    flaky.down_until = time.time() + 1.5
    trial.suggest_int("x", 0, 3)  # waits about 1.5 s, then goes through
    assert said[0].startswith("waiting for the storage") and said[-1].startswith("the storage is back")
    flaky.drop_after_tell = True  # the tell lands, then its connection drops: retried, found done
    handle.study.tell(trial, [0.5, 1.0])
    assert [t.state for t in handle.study.trials] == [TrialState.COMPLETE]
    flaky.down_until = time.time() + 60
    with pytest.raises(StorageUnavailable, match="did not answer"):
        RetryingStorage(flaky, window=1.0, say=said.append).get_all_studies()


def test_outage_past_the_window_keeps_the_finished_trial_exits_3_and_the_next_run_puts_it_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flaky, said = Flaky(), []
    handle = _handle(flaky, 1.0, said)
    told = []

    def evaluate(trial, context):  # noqa: ANN001, ANN202
        x = trial.suggest_int("x", 0, 100)
        if len(told) == 2:
            flaky.down_until = time.time() + 3600  # the storage goes away while this one trains
        told.append(x)
        return Outcome(TrialState.COMPLETE, [x / 100, 1.0], TrialRecord(accuracy=x / 100))

    with pytest.raises(StorageLost) as lost:
        run_loop(handle, evaluate, LoopSettings(total=5))
    assert lost.value.exit_code == 3 and "kept in" in str(lost.value)
    files = list(recovery_dir("o").glob("*.json"))
    assert len(files) == 1
    flaky.down_until = 0.0  # back
    run_loop(handle, evaluate, LoopSettings(total=5))
    study = handle.study
    assert evaluated_count(study) == 5 and not list(recovery_dir("o").glob("*.json"))
    recovered = [t for t in study.trials if "recovered_from" in t.user_attrs]
    assert len(recovered) == 1 and recovered[0].values == [told[2] / 100, 1.0]
    original = study.trials[recovered[0].user_attrs["recovered_from"]]
    assert original.state == TrialState.FAIL and TrialRecord.from_trial(original).uncounted_failure
    run_loop(handle, evaluate, LoopSettings(total=5))  # nothing left to put back: nothing added twice
    assert evaluated_count(study) == 5


needs_ctl = pytest.mark.skipif(not (POSTGRES_URL and POSTGRES_CTL) and not REQUIRE_POSTGRES,
                               reason="set NAS_TEST_POSTGRES_URL and NAS_TEST_POSTGRES_CTL (CI sets both)")


def _wait_for_trials(url: str, name: str, n: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            study = optuna.load_study(study_name=name, storage=url)
            if sum(t.state == TrialState.COMPLETE for t in study.trials) >= n:
                return
        except Exception:  # noqa: BLE001 - not created yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"{name}: fewer than {n} trials finished in {timeout} s")


def _ctl(action: str) -> None:
    assert POSTGRES_CTL, "NAS_REQUIRE_POSTGRES=1 but NAS_TEST_POSTGRES_CTL is not set"
    subprocess.run([*POSTGRES_CTL.split(), action], check=True, capture_output=True, timeout=60)


@needs_ctl
def test_a_real_postgresql_restart_mid_search_loses_nothing(tmp_path):
    name = f"outage-{uuid.uuid4().hex[:8]}"
    cmd = search(write_space(tmp_path), 10, "--workers", "2", "--storage", POSTGRES_URL, study=name, epochs="2")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_trials(POSTGRES_URL, name, 2)
        before = {t.number: t.values for t in optuna.load_study(study_name=name, storage=POSTGRES_URL).trials
                  if t.state == TrialState.COMPLETE}
        _ctl("stop")
        time.sleep(15)  # as the report: 15 s without the server
        _ctl("start")
        output, _ = proc.communicate(timeout=400)
        assert proc.returncode == 0, output[-3000:]
        assert "waiting for the storage" in output
        study = optuna.load_study(study_name=name, storage=POSTGRES_URL)
        check_consistent(study, 10)
        assert all(study.trials[n].values == v for n, v in before.items())
    finally:
        if subprocess.run([*POSTGRES_CTL.split(), "status"], capture_output=True).returncode:
            _ctl("start")
        optuna.delete_study(study_name=name, storage=POSTGRES_URL)


@needs_ctl
def test_postgresql_gone_past_the_window_exits_3_and_the_rerun_recovers(tmp_path):
    name = f"outage-{uuid.uuid4().hex[:8]}"
    cmd = search(write_space(tmp_path), 8, "--workers", "2", "--storage", POSTGRES_URL, "--storage-retry", "4",
                 study=name, epochs="2")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_trials(POSTGRES_URL, name, 2)
        _ctl("stop")
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 3, output[-3000:]
        assert "--storage-retry" in output and "goes back into the study" in output
        kept = list((tmp_path / "results" / name / "recovery").glob("*.json"))
        _ctl("start")
        rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=400)
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
        study = optuna.load_study(study_name=name, storage=POSTGRES_URL)
        check_consistent(study, 8)
        # each kept result counts exactly once: put back by the rerun, or (by design, nas.study.store.
        # recovery._add_once) left out because its tell had landed or the other worker's retry of
        # it finished first, which the timing of two workers decides
        for path in kept:
            number = int(path.name.split("-trial")[-1].split(".json")[0])
            ways = [t for t in study.trials if t.state == TrialState.COMPLETE and
                    (t.number == number or t.user_attrs.get("recovered_from") == number
                     or t.user_attrs.get("retry_of") == number)]
            assert len(ways) == 1, (path.name, [(t.number, t.user_attrs.get("recovered_from"),
                                                 t.user_attrs.get("retry_of")) for t in ways])
        assert not list((tmp_path / "results" / name / "recovery").glob("*.json"))
    finally:
        if subprocess.run([*POSTGRES_CTL.split(), "status"], capture_output=True).returncode:
            _ctl("start")
        optuna.delete_study(study_name=name, storage=POSTGRES_URL)
