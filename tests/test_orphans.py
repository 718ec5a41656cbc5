"""Every trial a loop asks is run or told by that loop: none is orphaned, and a single worker never
waits for a trial of its own process (issue 36).

The hang this guards against: an overlapped search reused a repeated genotype without saving it
before training, so the first save of that trial was the one in its tell, made after the loop had
taken its ask ahead; that save started another ask which no loop ever took. Its heartbeat kept it
RUNNING, and the loop waited for "another worker" to finish it, forever.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import _thread
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from nas.study.store.records import TrialRecord
from search_helpers import TINY_SPACE, TWO_ARCH_SPACE, FakeTrainer, config, search, write_space
from test_workers import POSTGRES_URL, REQUIRE_POSTGRES

ONE_ARCH_SPACE = TWO_ARCH_SPACE.replace("channels: [8, 16]", "channels: [8]")


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C's own handler in every test here, whatever the process inherited: a shell starts a
    background job with SIGINT ignored, and _thread.interrupt_main then does nothing (a fresh
    clone's suite, run in the background, failed that way)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def never_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single worker has nothing to wait for: its loop's wait for "the last trials running
    elsewhere" fails the test at once instead of hanging it."""
    from nas.study.run import steps

    def refuse(seconds: float) -> None:
        raise AssertionError("the loop waited for a trial that no other worker runs")

    monkeypatch.setattr(steps, "time", SimpleNamespace(sleep=refuse))


def live_threads(prefix: str, grace: float = 2.0) -> list[str]:
    """Threads named ``prefix...`` still alive (after ``grace`` seconds for ending ones to end)."""
    deadline = time.time() + grace
    while True:
        alive = [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.05)


def live_heartbeats() -> list[str]:
    return live_threads("heartbeat-")


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials(deepcopy=False)]


@pytest.mark.parametrize(("overlap", "trials"), [(True, 3), (True, 4), (False, 3)])
def test_a_reused_candidate_leaves_no_ask_ahead_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       overlap: bool, trials: int) -> None:
    """One architecture in the space: every trial after the first is reused, with no save before
    its tell. Before the fix the overlapped search of 3 trials hung here: the ask the second
    trial's tell started held the last slot (checked; with 4 trials a later take happened to pick
    it up)."""
    never_wait(monkeypatch)
    monkeypatch.chdir(tmp_path)
    space = str(write_space(tmp_path, ONE_ARCH_SPACE, "one.yaml"))
    fake = FakeTrainer()
    study = search(config(tmp_path, space=space, trials=trials, storage=f"journal:{tmp_path / 'j.log'}",
                          overlap_sampling=overlap), fake)
    assert states(study) == [TrialState.COMPLETE] * trials  # no surplus or orphan asked on the way
    assert len(fake.trained) == 1 and not live_heartbeats()
    # nor does its study thread outlive it: idle, it held its last job, the storage and (on
    # PostgreSQL) a connection; the stress test below once ran out of connections that way
    assert not live_threads("nas-study")


def test_ctrl_c_after_the_ask_ahead_was_taken_fails_that_trial_too(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C lands after the loop took the trial asked ahead and before it became the current
    one (here: in the report of the trial before, on the loop's thread). Before the fix that trial
    stayed RUNNING with its heartbeat beating in this process (checked)."""
    from nas.study.run.loop import run_loop
    from nas.study.run.settings import LoopSettings
    from nas.study.run.steps import Outcome
    from nas.study.store.storage import StudyHandle, open_storage

    monkeypatch.chdir(tmp_path)
    storage = open_storage(f"journal:{tmp_path / 'j.log'}", "o")
    handle = StudyHandle(optuna.create_study(storage=storage, study_name="o", directions=["maximize"]), storage)

    def evaluate(trial, context):  # noqa: ANN001, ANN202
        x = trial.suggest_int("x", 0, 100)
        context.save(TrialRecord(label=f"x{x}"))  # training starts: the next trial is asked ahead
        return Outcome(TrialState.COMPLETE, [x / 100], TrialRecord(accuracy=x / 100))

    def on_told(number: int, record: TrialRecord, state: TrialState) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_loop(handle, evaluate, LoopSettings(total=6, overlap_sampling=True), on_told)
    trials = handle.study.get_trials(deepcopy=False)
    assert TrialState.RUNNING not in [t.state for t in trials]
    reasons = [TrialRecord.from_trial(t).fail_reason for t in trials if t.state == TrialState.FAIL]
    assert reasons == ["interrupted (Ctrl-C)"] * 2  # the one training and the one taken
    assert not live_heartbeats()


def test_a_trial_of_this_process_that_no_loop_runs_is_failed_and_retried_not_waited_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A RUNNING trial whose heartbeat this process wrote, left by an earlier loop (here: made by
    hand), holds the last slot: the loop fails it as orphaned and runs its candidate again."""
    from nas.study.store.liveness import HEARTBEAT_KEY, Heartbeat
    from nas.study.run.loop import run_loop
    from nas.study.run.settings import LoopSettings
    from nas.study.run.steps import Outcome
    from nas.study.store.storage import StudyHandle, open_storage

    never_wait(monkeypatch)
    monkeypatch.chdir(tmp_path)
    storage = open_storage(f"journal:{tmp_path / 'j.log'}", "o")
    handle = StudyHandle(optuna.create_study(storage=storage, study_name="o", directions=["maximize"]), storage)
    left = handle.study.ask({"x": optuna.distributions.IntDistribution(0, 100)})
    Heartbeat(handle, handle.trial_id(left.number)).stop()  # beaten here once, then abandoned
    storage.flush(handle.trial_id(left.number))
    assert HEARTBEAT_KEY in handle.study.trials[0].system_attrs

    def evaluate(trial, context):  # noqa: ANN001, ANN202
        x = trial.suggest_int("x", 0, 100)
        return Outcome(TrialState.COMPLETE, [x / 100], TrialRecord(accuracy=x / 100))

    run_loop(handle, evaluate, LoopSettings(total=1))
    trials = handle.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert TrialRecord.from_trial(trials[0]).fail_reason.startswith("orphaned")
    assert trials[1].params == trials[0].params and TrialRecord.from_trial(trials[1]).retry_of == 0


# ----- stress: Ctrl-C at a random moment, random delays at the hand-overs, then resume ------------

def storages(tmp_path: Path) -> list[tuple[str, str]]:
    found = [("journal", f"journal:{tmp_path / 'stress.log'}")]
    if POSTGRES_URL:
        found.append(("postgresql", POSTGRES_URL))
    return found


def ctrl_c_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, rng: random.Random,
                      study_name: str) -> str:
    """One round: a search with random delays at the asks, tells and training is interrupted by a
    real Ctrl-C (``_thread.interrupt_main``) at a random moment, then resumed to its total with
    the same delays; the resumed run must never wait, and must leave no trial RUNNING and no
    heartbeat beating."""
    from nas.study.run import prefetch, steps

    def delayed(function):  # noqa: ANN001, ANN202
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            time.sleep(rng.uniform(0, 0.03))
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(prefetch, "ask", delayed(prefetch.ask))
    monkeypatch.setattr(steps, "ask", prefetch.ask)
    monkeypatch.setattr(steps.Loop, "tell", delayed(steps.Loop.tell))

    armed = threading.Lock()
    timer = threading.Timer(rng.uniform(0.0, 0.3), lambda: armed.acquire(blocking=False) and _thread.interrupt_main())

    class SlowTrainer(FakeTrainer):
        def __call__(self, *args, **kw):  # noqa: ANN002, ANN003, ANN204
            if not timer.is_alive() and not timer.finished.is_set():
                timer.start()  # the Ctrl-C comes while the loop runs: the first candidate trains
            time.sleep(rng.uniform(0, 0.05))
            return super().__call__(*args, **kw)

    space = str(write_space(tmp_path, rng.choice([TINY_SPACE, TWO_ARCH_SPACE]), "space.yaml"))
    cfg = config(tmp_path, space=space, trials=6, storage=url, study=study_name, sampler=rng.choice(["random", "tpe"]),
                 overlap_sampling=rng.random() < 0.7)
    landed = "after the search"  # where the Ctrl-C landed: the innermost frame of the toolkit or Optuna
    try:
        search(cfg, SlowTrainer())
    except KeyboardInterrupt as exc:
        landed = where(exc)
    finally:
        timer.cancel()
        fired = not armed.acquire(blocking=False)  # from here on the timer interrupts nothing
    if fired:
        try:
            time.sleep(0.05)  # a Ctrl-C given just as the search ended lands here
        except KeyboardInterrupt:
            pass
    with monkeypatch.context() as m:
        never_wait(m)
        study = search(cfg, SlowTrainer())
    fates = [(t.state.name, TrialRecord.from_trial(t).fail_reason) for t in study.get_trials(deepcopy=False)]
    assert TrialState.RUNNING not in states(study), fates
    assert sum(s == TrialState.COMPLETE for s in states(study)) == 6, fates
    assert not live_heartbeats()
    return landed if fired else "not fired"


def where(exc: BaseException) -> str:
    """``module:function`` of the innermost frame of nas or optuna in ``exc``'s traceback."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/nas/" in f.filename or "/optuna/" in f.filename]
    if not frames:
        return "elsewhere"
    name = frames[-1].filename
    return f"{name[name.rindex('/nas/' if '/nas/' in name else '/optuna/') + 1:]}:{frames[-1].name}"


@pytest.mark.parametrize("kind", ["journal", pytest.param("postgresql", marks=pytest.mark.skipif(
    not (POSTGRES_URL or REQUIRE_POSTGRES), reason="set NAS_TEST_POSTGRES_URL"))])
def test_ctrl_c_at_random_moments_and_resume_never_orphans_a_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  kind: str) -> None:
    """A few rounds here; ``python -m bench.orphans`` runs many (``NAS_STRESS_ROUNDS``, and
    ``NAS_STRESS_LOG``: a file that gets where each round's Ctrl-C landed). Seeded for repeatability."""
    import json
    import os
    import uuid

    url = dict(storages(tmp_path))[kind]
    rounds = int(os.environ.get("NAS_STRESS_ROUNDS", "4"))
    rng = random.Random(int(os.environ.get("NAS_STRESS_SEED", "36")))
    landed = []
    for round_ in range(rounds):
        monkeypatch.chdir(tmp_path)
        with monkeypatch.context() as m:
            landed.append(ctrl_c_and_resume(tmp_path, m, url, rng, f"stress-{round_}-{uuid.uuid4().hex[:8]}"))
    if os.environ.get("NAS_STRESS_LOG"):
        with open(os.environ["NAS_STRESS_LOG"], "a") as log:
            log.write(json.dumps({"kind": kind, "landed": landed}) + "\n")


def test_a_dead_workers_pid_taken_by_another_task_still_reads_as_dead() -> None:
    """Pids are reused, and a thread's id answers kill(pid, 0) too: with 2^15 ids and the threads
    a search starts, a dead worker's pid can soon belong to another task. Its heartbeat carries its
    process's start time, so the trial is still seen as lost at once, not after --stale-after."""
    import socket

    from nas.study.store.liveness import PROCESS_START, is_stale
    from nas.study.store.records import HEARTBEAT_KEY

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)  # a task alive under some id
    other.start()
    try:
        now = time.time()

        def trial(pid: int, started: int | None) -> optuna.trial.FrozenTrial:
            beat = {"host": socket.gethostname(), "pid": pid, "started": started, "time": now}
            return optuna.trial.create_trial(state=TrialState.RUNNING, system_attrs={HEARTBEAT_KEY: beat})

        if PROCESS_START is None:
            pytest.skip("no /proc: start times are not known here")
        assert is_stale(trial(other.native_id, PROCESS_START), stale_after=60, now=now)  # its id, not its process
        assert not is_stale(trial(threading.get_native_id(), PROCESS_START), stale_after=60, now=now)
        assert not is_stale(trial(other.native_id, None), stale_after=60, now=now)  # older heartbeats: pid only
    finally:
        stop.set()


def test_ctrl_c_during_a_storage_call_lands_after_the_call() -> None:
    """A Ctrl-C inside a database driver's commit once broke the connection, and the error raised
    while closing the session replaced the KeyboardInterrupt: the search went on and the candidate
    was recorded as failed. Every storage call now finishes first; the Ctrl-C lands right after."""
    from nas.study.store.retrying import RetryingStorage

    finished: list[str] = []

    class Committing(optuna.storages.InMemoryStorage):
        def get_all_studies(self):  # noqa: ANN202
            _thread.interrupt_main()  # Ctrl-C arrives mid-call
            time.sleep(0.05)
            finished.append("committed")
            return super().get_all_studies()

    with pytest.raises(KeyboardInterrupt):
        RetryingStorage(Committing(), window=1.0).get_all_studies()
    assert finished == ["committed"]
