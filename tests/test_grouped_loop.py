"""The grouped loop (--group K, nas.study.run.grouped): K candidates in training at once, each
told as it finishes, failures alone, the total exact, nothing finished lost to Ctrl-C or a kill."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.errors import UserError
from nas.study.run import grouped
from nas.study.run.group_size import group_size
from nas.study.run.placement import GIB
from nas.study.run.steps import evaluated_count
from nas.study.store.records import TrialRecord
from nas.train.group import CandidatePool
from conftest import run_cli
from search_helpers import FakeTrainer, config, search, write_space
from test_search_cli import completed, load, run_or_dump, search_cmd, wait_for


@pytest.fixture
def side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """The group's candidates in threads at once, as on a GPU (one after another is the CPU's way)."""
    monkeypatch.setattr(grouped, "CandidatePool", lambda device, size, concurrent=None: CandidatePool(device, size, True))


class CountingTrainer(FakeTrainer):
    """Records the most candidates it trained at once; fails every ``fail_every``-th call."""

    def __init__(self, fail_every: int = 0, stop_at: int = 0, seconds: float = 0.3) -> None:
        super().__init__(fail_every=fail_every)
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0
        self.stop_at = stop_at

    def __call__(self, genotype, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN204
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
            call = self.calls
        try:
            time.sleep(self.seconds)
            if self.stop_at and call == self.stop_at:
                raise KeyboardInterrupt
            with self.lock:
                return super().__call__(genotype, *args, **kw)
        finally:
            with self.lock:
                self.now -= 1


def test_a_group_trains_k_at_once_and_ends_at_exactly_the_total(tmp_path: Path, side_by_side: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    trainer = CountingTrainer()
    study = search(config(tmp_path, trials=7, group=3, sampler="tpe"), trainer)
    assert trainer.most == 3
    assert evaluated_count(study) == 7 and sum(t.state == TrialState.COMPLETE for t in study.trials) == 7
    assert not any(TrialRecord.from_trial(t).fail_reason for t in study.trials)  # no surplus asked


def test_the_loops_own_trials_in_training_are_never_judged_stale(tmp_path: Path, side_by_side: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With --stale-after below the heartbeat's interval, a trial that trains beside the loop's
    look at the study is still its own, alive."""
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=5, group=3, stale_after=0.5), CountingTrainer(seconds=0.8))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5


def test_a_failing_candidate_fails_alone_and_the_group_goes_on(tmp_path: Path, side_by_side: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=6, group=3), CountingTrainer(fail_every=3))
    failed = [TrialRecord.from_trial(t).fail_reason for t in study.trials if t.state == TrialState.FAIL]
    assert failed and all(reason == "RuntimeError: boom in candidate" for reason in failed)
    assert evaluated_count(study) == 6
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6 - len(failed)


def test_ctrl_c_in_a_group_fails_what_trains_and_a_rerun_completes(tmp_path: Path, side_by_side: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config(tmp_path, trials=8, group=3)
    with pytest.raises(KeyboardInterrupt):
        search(cfg, CountingTrainer(stop_at=5))
    study = load(tmp_path, "t")
    assert TrialState.RUNNING not in [t.state for t in study.trials]
    assert any(TrialRecord.from_trial(t).fail_reason == "interrupted (Ctrl-C)" for t in study.trials)
    done = sum(t.state == TrialState.COMPLETE for t in study.trials)
    assert done >= 3  # the first group finished and was told
    study = search(config(tmp_path, trials=8, group=3), FakeTrainer())
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 8


def test_a_grouped_search_trains_each_candidate_as_a_serial_one_does(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Real training on the CPU: the random sampler proposes the same candidates in the same order,
    and each one's accuracy is the same to the last bit."""
    from nas.study.search import run_search
    import io

    monkeypatch.chdir(tmp_path)
    space = str(write_space(tmp_path))
    serial = run_search(config(tmp_path, space=space, trials=4, study="serial"), out=io.StringIO())
    group = run_search(config(tmp_path, space=space, trials=4, study="group", group=3), out=io.StringIO())
    by_number = {t.number: (t.params, t.values) for t in serial.trials}
    assert {t.number: (t.params, t.values) for t in group.trials} == by_number
    assert all(values is not None for _, values in by_number.values())


def test_an_impossible_group_is_refused_before_anything_starts() -> None:
    free = lambda device: (10 * GIB, 16 * GIB)  # noqa: E731 - a GPU with 10 GiB free
    each, data = lambda: GIB, lambda: GIB // 2
    assert group_size(8, "cuda:0", each, data, free) == 8
    assert group_size("auto", "cuda:0", each, data, free) == 1  # AUTO_CAP, as measured on an H200
    assert group_size("auto", "cuda:0", each, data, free, cap=8) == 8
    assert group_size("auto", "cuda:0", lambda: 4 * GIB, data, free, cap=8) == 2
    with pytest.raises(UserError, match=r"--group 12: .* at most 9 fit"):
        group_size(12, "cuda:0", each, data, free)
    assert group_size(12, "cpu", each, data, free) == 12  # one after another: memory never limits
    assert group_size("auto", "cpu", each, data, free) == 1


def test_group_size_user_errors_exit_2_with_one_line_and_write_nothing(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path)
    for value, message in (("0", "at least 1 candidate"), ("lots", "expected a whole number")):
        code, _, err = run_cli(*search_cmd(space, 2, "k", "--group", value)[2:])
        assert code == 2 and message in err and "Traceback" not in err
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert not (tmp_path / "results").exists()


def test_a_killed_grouped_worker_keeps_every_finished_candidate(tmp_path: Path) -> None:
    space = write_space(tmp_path)
    log = tmp_path / "results/k/journal.log"
    proc = subprocess.Popen(search_cmd(space, 400, "k", "--group", "3"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    before = wait_for(log, 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = completed(log)
    assert all(after[n] == v for n, v in before.items())  # nothing finished was lost
    total = len(after) + 2
    out = run_or_dump(search_cmd(space, total, "k", "--group", "3"), tmp_path)
    assert out.returncode == 0, out.stderr
    assert evaluated_count(load(tmp_path)) == total
    assert all(completed(log)[n] == v for n, v in after.items())


def test_retrain_trains_a_group_of_runs_at_once_and_keeps_every_one(tmp_path: Path, side_by_side: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from nas.arch.genotype import Genotype
    from nas.study.retrain import Candidate, run_retrain
    from nas.study.store.storage import load_handle

    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=4), FakeTrainer())
    chosen = [Candidate(f"trial {t.number}", Genotype.from_json(t.user_attrs["genotype"]), t.number)
              for t in study.trials[:3]]
    trainer = CountingTrainer()
    retrain = run_retrain(load_handle(None, "t"), chosen, epochs=2, seeds=2, out=open("/dev/null", "w"),
                          trainer=trainer, group=3).study
    assert trainer.most == 3
    done = [TrialRecord.from_trial(t) for t in retrain.trials if t.state == TrialState.COMPLETE]
    assert sorted((r.key, r.seed) for r in done) == sorted((c.genotype.key(), s) for c in chosen for s in (0, 1))


def test_a_group_runs_halving_with_its_screen_and_ends_at_exactly_the_total(tmp_path: Path, side_by_side: None,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Under --fidelity sh each candidate of a group is screened, ranked and trained in its own
    thread, reading the study for its promotion decisions while the loop asks beside it."""
    import io

    from nas.study.search import run_search
    from nas.train.rungs import Rungs
    from search_helpers import FakeRun

    class SlowRun(FakeRun):
        def train_to(self, epochs: float):  # noqa: ANN201
            time.sleep(0.05)
            return super().train_to(epochs)

    monkeypatch.chdir(tmp_path)
    cfg = config(tmp_path, trials=12, group=3, sampler="tpe", fidelity=Rungs(1, 3, 3))
    study = run_search(cfg, out=io.StringIO(), run_factory=SlowRun)
    records = [TrialRecord.from_trial(t) for t in study.trials]
    assert evaluated_count(study) == 12 and not any(r.fail_reason for r in records)
    fresh = [r for r in records if r.reused_from is None]
    assert all("0" in r.rung_scores for r in fresh) and any(not r.trained for r in fresh)
    assert any(r.top_rung for r in fresh)
