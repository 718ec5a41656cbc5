"""Sampling overlapped with training (nas.study.prefetch): the next trial is asked while the
current one trains, the study still ends at exactly the total, and Ctrl-C fails both trials."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.study.records import TrialRecord
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
