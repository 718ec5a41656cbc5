"""Sampling overlapped with training (nas.study.run.prefetch): the next trial is asked while the
current one trains, the study still ends at exactly the total, and Ctrl-C fails both trials."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.study.store.records import TrialRecord
from search_helpers import FakeTrainer, config, search


class WatchingTrainer(FakeTrainer):
    """Records how many trials are RUNNING in the study while each candidate trains (after a
    pause long enough for the ask running beside it to land); raises Ctrl-C on call ``stop_at``."""

    def __init__(self, storage_url: str, study: str, stop_at: int = 0) -> None:
        super().__init__()
        self.url, self.study, self.stop_at = storage_url, study, stop_at
        self.running: list[int] = []

    def __call__(self, genotype, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN204
        import time

        time.sleep(0.4)
        # another process's view of the study (the journal file), as another worker would see it
        trials = optuna.load_study(study_name=self.study, storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(self.url))).get_trials(deepcopy=False)
        self.running.append(sum(t.state == TrialState.RUNNING for t in trials))
        if self.stop_at and len(self.running) == self.stop_at:
            raise KeyboardInterrupt
        return super().__call__(genotype, *args, **kw)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_the_next_trial_is_asked_while_one_trains_and_the_total_is_exact(tmp_path: Path, sampler: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "j.log"
    trainer = WatchingTrainer(str(log), "t")
    study = search(config(tmp_path, trials=6, sampler=sampler, storage=f"journal:{log}", overlap_sampling=True), trainer)
    # while each candidate but the last trained, the next was already asked and waiting
    assert trainer.running[:-1] == [2] * (len(trainer.running) - 1) and trainer.running[-1] == 1
    records = [TrialRecord.from_trial(t) for t in study.trials]
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6
    assert not any(r.fail_reason for r in records), [r.fail_reason for r in records]  # no surplus asked


def test_ctrl_c_fails_the_trial_asked_ahead_too_and_a_rerun_completes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "j.log"
    cfg = config(tmp_path, trials=5, storage=f"journal:{log}", overlap_sampling=True)
    with pytest.raises(KeyboardInterrupt):
        search(cfg, WatchingTrainer(str(log), "t", stop_at=3))
    study = optuna.load_study(study_name="t", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(log))))
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    interrupted = [t for t in study.trials if TrialRecord.from_trial(t).fail_reason == "interrupted (Ctrl-C)"]
    assert len(interrupted) == 2  # the one training and the one asked ahead
    study = search(cfg, FakeTrainer())
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 5


def test_asking_ahead_is_the_default_on_a_gpu_only_and_a_choice_either_way() -> None:
    from nas.study.search_config import SearchConfig

    assert SearchConfig().loop_settings("cuda:0").overlap_sampling
    assert not SearchConfig().loop_settings("cpu").overlap_sampling
    assert not SearchConfig(overlap_sampling=False).loop_settings("cuda:1").overlap_sampling
    assert SearchConfig(overlap_sampling=True).loop_settings("cpu").overlap_sampling


def test_overlapped_saves_and_tells_run_on_the_study_thread_and_a_repeat_is_still_reused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's own thread only samples and trains; a tell still in flight (slowed here) does
    not hide the trial before from the duplicate check of the next (the evaluator knows its own
    results), so each of the two architectures is trained once."""
    import threading
    import time

    from nas.study.run.steps import Loop
    from search_helpers import TWO_ARCH_SPACE, write_space

    threads: list[str] = []
    real_tell = Loop.tell

    def slow_tell(*args):  # noqa: ANN002, ANN202
        threads.append(threading.current_thread().name)
        time.sleep(0.3)
        return real_tell(*args)

    monkeypatch.setattr(Loop, "tell", slow_tell)
    monkeypatch.chdir(tmp_path)
    fake = FakeTrainer()
    space = str(write_space(tmp_path, TWO_ARCH_SPACE, "two.yaml"))
    study = search(config(tmp_path, space=space, trials=6, sampler="random", overlap_sampling=True), fake)
    assert len(fake.trained) == 2
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6
    assert threads == ["nas-study"] * 6


def test_an_outage_in_an_overlapped_loop_keeps_the_trained_result(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage goes away as a candidate is saved: the save and the ask ahead fail on the study
    thread, and the loop still keeps the candidate's finished result in the recovery file (exit
    code 3); the next run puts it back."""
    import time

    from nas.study.run.loop import run_loop

    from nas.study.run.settings import LoopSettings

    from nas.study.run.steps import Outcome, evaluated_count
    from nas.study.store.recovery import StorageLost, recovery_dir
    from nas.study.store.retrying import RetryingStorage
    from nas.study.store.storage import StudyHandle
    from nas.study.store.write_buffer import WriteBuffer
    from test_outage import Flaky

    monkeypatch.chdir(tmp_path)
    flaky = Flaky()
    storage = RetryingStorage(WriteBuffer(flaky), window=1.0, say=lambda line: None)  # as a search's
    handle = StudyHandle(optuna.create_study(storage=storage, study_name="o", directions=["maximize", "minimize"]),
                         storage)
    told: list[int] = []

    def evaluate(trial, context):  # noqa: ANN001, ANN202
        x = trial.suggest_int("x", 0, 100)
        if len(told) == 2:
            flaky.down_until = time.time() + 3600
        context.save(TrialRecord(label=f"x{x}"))  # the candidate shown; the next one asked ahead
        told.append(x)
        return Outcome(TrialState.COMPLETE, [x / 100, 1.0], TrialRecord(accuracy=x / 100))

    settings = LoopSettings(total=5, overlap_sampling=True)
    with pytest.raises(StorageLost) as lost:
        run_loop(handle, evaluate, settings)
    assert lost.value.exit_code == 3 and "kept in" in str(lost.value)
    # the trial trained as the storage went, and the one before it if its tell (on the study
    # thread) had not landed yet: which depends on the threads' timing
    kept = len(list(recovery_dir("o").glob("*.json")))
    assert kept in (1, 2)
    flaky.down_until = 0.0
    run_loop(handle, evaluate, settings)
    assert evaluated_count(handle.study) == 5 and not list(recovery_dir("o").glob("*.json"))
    recovered = [t for t in handle.study.trials if "recovered_from" in t.user_attrs]
    assert len(recovered) == kept and [told[2] / 100, 1.0] in [t.values for t in recovered]
