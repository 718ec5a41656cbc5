"""Successive halving (``search --fidelity sh``): rungs, promotion order, continuation, resume."""

import io
import math
import os
import time

import numpy as np
import pytest
import torch

from nas import Genotype, UserError
from nas.report.results import knee, pareto_frame, resolve_trial, trials_frame
from nas.study.halving import promotion, rung_results
from nas.study.run.steps import evaluated_count
from nas.pareto import crowding_distance, front_ranks, promotion_order
from nas.study.store.records import TrialRecord
from nas.train.rungs import Rungs
from nas.study.search import run_search
from nas.train.extendable import ExtendableRun, StableDecay
from nas.train.sources import load_dataset
from nas.train.trainer import TrainConfig

from conftest import run_cli
from search_helpers import TWO_ARCH_SPACE, FakeRun, FakeTrainer, config, write_space
from test_train import small_net


@pytest.fixture
def in_tmp(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sh_config(tmp_path, **kw):
    base = dict(fidelity=Rungs(min_epochs=1, max_epochs=9, eta=3, screen=None), trials=18)  # trained rungs alone
    base.update(kw)
    return config(tmp_path, **base)


# ----- rungs and promotion order ------------------------------------------------------------------

def test_rungs_are_min_times_eta_powers_up_to_max():
    assert Rungs(1, 9, 3).epochs == [1, 3, 9]
    assert Rungs(0.5, 8, 2).epochs == [0.5, 1, 2, 4, 8]
    assert Rungs(2, 2, 3).epochs == [2]
    with pytest.raises(UserError, match="give --max-epochs 9 or 27"):
        Rungs(1, 10, 3)
    with pytest.raises(UserError, match="--eta"):
        Rungs(1, 9, 1)


def test_promotion_order_is_front_first_then_spread_then_accuracy():
    # (accuracy, FLOPs): 0, 1, 2 form the front (2 in its middle, 1 crowded next to 0), 3 is dominated
    acc = np.array([0.9, 0.85, 0.7, 0.6, 0.5])
    flops = np.array([100.0, 90.0, 20.0, 50.0, 10.0])
    assert list(front_ranks(acc, flops)) == [0, 0, 0, 1, 0]
    crowd = crowding_distance(acc[[0, 1, 2, 4]], flops[[0, 1, 2, 4]])
    assert math.isinf(crowd[0]) and math.isinf(crowd[3]) and crowd[2] > crowd[1]
    # ends (0 more accurate than 4), then the less crowded middle point 2, then 1; dominated 3 last
    assert list(promotion_order(acc, flops)) == [0, 4, 2, 1, 3]


def test_promotion_keeps_the_top_n_over_eta_and_the_first_result_of_a_rung():
    assert promotion(0.5, 100.0, ([], []), eta=3) == (True, 0, 1)  # nothing to wait for (ASHA)
    others = ([0.9, 0.8, 0.7, 0.6, 0.55], [100.0, 100.0, 100.0, 100.0, 100.0])
    assert promotion(0.95, 100.0, others, eta=3) == (True, 0, 6)
    assert promotion(0.85, 100.0, others, eta=3) == (True, 1, 6)  # top 6 // 3 = 2
    assert promotion(0.75, 100.0, others, eta=3)[0] is False
    assert promotion(0.5, 10.0, others, eta=3)[0] is True  # cheapest: on the front, at its end


# ----- the search -----------------------------------------------------------------------------------

def test_a_screen_ranks_every_candidate_at_initialisation_and_trains_only_what_it_promotes(in_tmp):
    """The default: NASWOT at initialisation ranks each candidate against the screen's results so
    far; only the top 1/eta go on to the trained rungs, and a screened-out one trains nothing."""
    assert Rungs().screen == "naswot" and Rungs(1, 3, 3).keys == ["0", "1", "3"]
    trained_runs: list[str] = []

    class CountingRun(FakeRun):
        def __init__(self, genotype, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            trained_runs.append(genotype.key())
            super().__init__(genotype, *args, **kwargs)

    study = run_search(sh_config(in_tmp, fidelity=Rungs(1, 3, 3, screen="naswot"), trials=18), out=io.StringIO(),
                       run_factory=CountingRun)
    assert evaluated_count(study) == 18
    records = [(t, TrialRecord.from_trial(t)) for t in study.trials]
    fresh = [(t, r) for t, r in records if r.reused_from is None]
    screened_out = [(t, r) for t, r in fresh if not r.trained]
    assert screened_out and len(screened_out) < len(fresh)
    for t, r in fresh:
        rank, n = r.rung_ranks["0"]
        assert (rank < max(1, n // 3)) == r.trained  # each decision followed the rule
        if not r.trained:
            assert r.rung == 0 and list(r.rung_scores) == ["0"] and r.epochs == 0 and not r.top_rung
            assert r.rung_scores["0"] == r.signals.naswot == r.score == t.values[0]  # what the sampler sees
        else:
            assert list(r.rung_scores)[:2] == ["0", "1"] and r.rung >= 1
    assert fresh[0][1].rung_ranks["0"] == [0, 1]  # asynchronous: the first is promoted without waiting
    assert sorted(trained_runs) == sorted(r.key for _, r in fresh if r.trained)  # nothing else was built to train
    front = pareto_frame(trials_frame(study))
    assert len(front) and front["top_rung"].all()


def test_cli_screen_choices_and_a_screen_needs_halving(in_tmp):
    code, _, err = run_cli("search", "--dataset", "digits", "--screen", "naswot", "--study", "x")
    assert code == 2 and "--screen: only with successive halving (add --fidelity sh)" in err
    code, _, err = run_cli("search", "--dataset", "digits", "--fidelity", "sh", "--screen", "tse", "--study", "x")
    assert code == 2 and "--screen tse: allowed: synflow, naswot, grad_norm, snip" in err and "Traceback" not in err
    code, _, err = run_cli("search", "--dataset", "digits", "--fidelity", "sh", "--signal", "naswot", "--study", "x")
    assert code == 2 and "give --screen naswot" in err
    assert not (in_tmp / "results").exists()  # refused before anything was written


def test_search_promotes_by_rank_and_the_front_is_made_of_top_rung_trials(in_tmp):
    study = run_search(sh_config(in_tmp), out=io.StringIO(), trainer=FakeTrainer(), run_factory=FakeRun)
    assert evaluated_count(study) == 18
    records = {t.number: (t, TrialRecord.from_trial(t)) for t in study.trials}
    rungs = [1, 3, 9]
    reached = [0, 0, 0]
    for t, r in records.values():
        if r.reused_from is not None:
            continue
        reached[r.rung] += 1
        assert list(r.rung_accuracies) == [f"{e:g}" for e in rungs[:r.rung + 1]]
        assert r.accuracy == r.rung_accuracies[f"{rungs[r.rung]}"] == t.values[0]  # what the sampler sees
        assert r.top_rung == (r.rung == 2) and r.epochs == rungs[r.rung] and r.trained_epochs == rungs[r.rung]
        for key, (rank, n) in r.rung_ranks.items():  # each decision followed the rule
            promoted = rank < max(1, n // 3)
            assert promoted == (rungs.index(float(key)) < r.rung)
    assert records[0][1].rung_ranks["1"] == [0, 1]  # asynchronous: promoted without waiting
    assert reached[0] > reached[1] > 0 and reached[2] > 0
    frame = trials_frame(study)
    assert {"accuracy_e1", "accuracy_e3", "accuracy_e9", "rung", "top_rung", "trained_epochs"} <= set(frame)
    front = pareto_frame(frame)
    assert len(front) and front["top_rung"].all() and (front["epochs"] == 9).all()
    assert bool(knee(frame)["top_rung"])
    said = []
    assert TrialRecord.from_trial(resolve_trial(study, "knee", say=said.append)).top_rung
    assert said == [f"knee: chosen among the {reached[2]} candidates trained to the top rung of successive "
                    f"halving (9 epochs)"]


def test_rungs_rank_on_the_searchs_signal(in_tmp):
    study = run_search(sh_config(in_tmp, signal="tse"), out=io.StringIO(), trainer=FakeTrainer(), run_factory=FakeRun)
    assert study.metric_names == ["-tse", "log10_flops"]
    records = [(t, TrialRecord.from_trial(t)) for t in study.trials]
    differs = 0
    for t, r in records:
        if r.reused_from is not None:
            continue
        top = f"{[1, 3, 9][r.rung]:g}"
        assert r.rung_scores[top] == -r.signals.tse == r.score == t.values[0]  # what the sampler sees
        differs += r.rung_scores[top] != r.rung_accuracies[top]
        for key, decision in r.rung_ranks.items():  # each decision: this score among the earlier ones
            earlier = [u for u, _ in records if u.number < t.number]  # serial: every earlier trial had finished
            others = rung_results(earlier, key, r.key)
            assert list(promotion(r.rung_scores[key], r.flops, others, 3)[1:]) == decision
    assert differs > 0


def test_resume_refuses_other_rungs_and_sh_refuses_the_reward_mode(in_tmp):
    run_search(sh_config(in_tmp, trials=2), out=io.StringIO(), run_factory=FakeRun)
    with pytest.raises(UserError, match="successive halving .*--max-epochs 9.*not successive halving .*--max-epochs 3"):
        run_search(sh_config(in_tmp, trials=3, fidelity=Rungs(1, 3, 3, screen=None)), out=io.StringIO(), run_factory=FakeRun)
    with pytest.raises(UserError, match="single fidelity"):
        run_search(config(in_tmp, trials=3), out=io.StringIO(), trainer=FakeTrainer())
    with pytest.raises(UserError, match="reward mode"):
        run_search(sh_config(in_tmp, study="r", flops_target=1e6), out=io.StringIO(), run_factory=FakeRun)


def test_cli_refuses_halving_flags_without_sh_and_rungs_off_the_grid(in_tmp):
    code, _, err = run_cli("search", "--dataset", "digits", "--eta", "2", "--study", "x")
    assert code == 2 and "--eta: only with successive halving (add --fidelity sh)" in err
    code, _, err = run_cli("search", "--dataset", "digits", "--fidelity", "sh", "--min-epochs", "1", "--eta", "3",
                           "--max-epochs", "10", "--study", "x")
    assert code == 2 and "give --max-epochs 9 or 27" in err and "Traceback" not in err
    code, _, err = run_cli("search", "--dataset", "digits", "--fidelity", "sh", "--epochs", "2", "--study", "x")
    assert code == 2 and "--min-epochs" in err
    assert not (in_tmp / "results").exists()  # refused before anything was written


# ----- extendable training ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_continuing_a_run_equals_training_it_from_scratch(digits):
    schedule = StableDecay(warmup_epochs=0.15)
    continued = ExtendableRun(small_net(), digits, TrainConfig(seed=3), "cpu", schedule)
    first = continued.train_to(1).accuracy
    pointers = ([p.data_ptr() for p in continued.model.parameters()],
                [continued.opt.state[p]["momentum_buffer"].data_ptr() for p in continued.model.parameters()])
    acc = continued.train_to(3).accuracy
    scratch = ExtendableRun(small_net(), digits, TrainConfig(seed=3), "cpu", schedule)
    assert scratch.train_to(3).accuracy == acc  # tolerance 0 on CPU: the same trajectory
    # every signal of a rung, TSE over the rung's whole trajectory included, is the same too
    assert continued.results["3"].signals == scratch.results["3"].signals
    signals = continued.results["3"].signals
    assert all(math.isfinite(v) for v in (signals.val_loss, signals.tse, signals.tse_late, signals.tse_ema))
    assert signals.tse_late < signals.tse  # the loss fell over the run
    for (name, a), b in zip(continued.model.state_dict().items(), scratch.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert acc > first and acc > 0.8
    # the cool-down branch was undone in place: the tensors a CUDA graph was captured with
    # (parameters, momentum buffers) are the ones training goes on with
    assert [p.data_ptr() for p in continued.model.parameters()] == pointers[0]
    assert [continued.opt.state[p]["momentum_buffer"].data_ptr() for p in continued.model.parameters()] == pointers[1]
    # what continuing cost: the extra epochs plus the first rung's cool-down (0.2 x 1 epoch)
    spe = continued.steps_per_epoch
    assert continued.steps_trained == 3 * spe + round(0.2 * spe)
    assert scratch.steps_trained == 3 * spe
    # what equal-compute comparisons count for it (bench/replay.py)
    rungs = Rungs(1, 3, 3, cooldown=0.2)
    assert continued.epochs_trained == pytest.approx(rungs.epochs_to_reach(1), abs=1 / spe)
    assert rungs.epochs_to_reach(0) == 1 and Rungs(1, 9, 3).epochs_to_reach(2) == pytest.approx(9 + 0.2 * 4)


def test_warmup_stable_decay_schedule():
    s = StableDecay(warmup_epochs=0.15, cooldown=0.2)
    assert s.multiplier(0, 10, 80, 100) == pytest.approx(0.1)
    assert s.multiplier(50, 10, 80, 100) == 1.0
    assert s.multiplier(90, 10, 80, 100) == pytest.approx(0.5)
    assert s.multiplier(100, 10, 80, 100) == 0.0


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the loop catches it, the trial stays RUNNING."""


class DyingRun(ExtendableRun):
    """Dies right after the checkpoint at the end of its second epoch (inside the second rung)."""

    instances: list["DyingRun"] = []

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        DyingRun.instances.append(self)

    def _save(self) -> None:
        super()._save()
        if len(DyingRun.instances) == 1 and self.step == 2 * self.steps_per_epoch:
            raise WorkerKilled


def test_a_run_lost_mid_rung_resumes_from_its_last_epoch(in_tmp):
    space = write_space(in_tmp, TWO_ARCH_SPACE)
    # On the CPU, as the uninterrupted reference run below: on a GPU machine "auto" trained the
    # search on CUDA, whose accuracies differ from the CPU's (seen on an H100).
    cfg = sh_config(in_tmp, space=str(space), trials=1, fidelity=Rungs(1, 3, 3), stale_after=0.3, poll_interval=0.1,
                    device="cpu")
    with pytest.raises(WorkerKilled):
        run_search(cfg, out=io.StringIO(), run_factory=DyingRun)
    killed = DyingRun.instances[0]
    assert killed.steps_trained == 2 * killed.steps_per_epoch + round(0.2 * killed.steps_per_epoch)
    time.sleep(0.5)  # no heartbeat any more: the trial is stale
    study = run_search(cfg, out=io.StringIO(), run_factory=DyingRun)
    lost, retry = study.trials[0], study.trials[1]
    assert "worker lost" in lost.user_attrs["fail_reason"] and lost.user_attrs["rung_accuracies"]
    r = TrialRecord.from_trial(retry)
    assert r.retry_of == 0 and r.top_rung and r.resumed_from_epochs == 2.0
    assert r.trained_epochs == 1.0  # epochs 2-3 only: nothing before the kill was trained again
    # and the result is the one an uninterrupted run gives
    whole = ExtendableRun(Genotype.from_json(r.genotype), load_dataset("digits"), cfg.train, "cpu",
                          StableDecay(0.15, 0.2))
    assert r.rung_accuracies == {"1": whole.train_to(1).accuracy, "3": whole.train_to(3).accuracy}
    assert r.signals == whole.results["3"].signals  # the step losses before the kill came back too
    assert not any((in_tmp / "results/t/checkpoints").iterdir())  # discarded once finished


POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")


@pytest.mark.parametrize("storage", ["journal", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES_URL and os.environ.get("NAS_REQUIRE_POSTGRES") != "1",
    reason="set NAS_TEST_POSTGRES_URL to a PostgreSQL server (CI starts one)"))])
def test_two_workers_promote_asynchronously_on_one_study(tmp_path, storage):
    import subprocess
    import sys
    import uuid

    import optuna

    from conftest import ROOT
    from nas.study.store.storage import open_storage

    space = write_space(tmp_path)
    name = f"sh-{uuid.uuid4().hex[:8]}"
    url = POSTGRES_URL if storage == "postgresql" else f"journal:{tmp_path / 'journal.log'}"
    cmd = [sys.executable, str(ROOT / "run_search.py"), "search", "--space", str(space), "--dataset", "digits",
           "--trials", "10", "--study", name, "--no-progress", "--sampler", "random", "--workers", "2",
           "--fidelity", "sh", "--min-epochs", "1", "--max-epochs", "3", "--eta", "3", "--screen", "none",
           "--storage", str(url)]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "top rung of successive halving: 3 epochs" in out.stdout
    study = optuna.load_study(study_name=name, storage=open_storage(str(url), name))
    try:
        assert evaluated_count(study) == 10
        records = [TrialRecord.from_trial(t) for t in study.trials if t.state.name == "COMPLETE"]
        pids = {t.system_attrs["nas:heartbeat"]["pid"] for t in study.trials if "nas:heartbeat" in t.system_attrs}
        assert len(pids) == 2  # both workers trained candidates
        decided = [(r.rung_ranks["1"], r.rung) for r in records if r.rung_ranks and r.reused_from is None]
        assert decided and all((rank < max(1, n // 3)) == (rung == 1) for (rank, n), rung in decided)
        assert any(rung == 1 for _, rung in decided) and any(rung == 0 for _, rung in decided)
        assert max(n for (_, n), _ in decided) <= 10  # each decision saw only results that existed
        assert not any((tmp_path / "results" / name / "checkpoints").iterdir())
    finally:
        if storage == "postgresql":
            optuna.delete_study(study_name=name, storage=POSTGRES_URL)


class FailingRun(FakeRun):
    """Trains the first rung, then fails (a NaN loss) on the way to the second."""

    def train_to(self, epochs: float):
        from nas.train.trainer import CandidateFailed

        if epochs > 1:
            raise CandidateFailed("non-finite training loss at step 99")
        return super().train_to(epochs)


def test_budgets_reject_before_training_and_a_failing_rung_is_isolated(in_tmp):
    made = []

    def factory(genotype, *args):
        made.append(genotype)
        return FailingRun(genotype, *args)

    cfg = sh_config(in_tmp, trials=6, flops_max=2.5e6)
    study = run_search(cfg, out=io.StringIO(), run_factory=factory)
    over = [t for t in study.trials if t.user_attrs.get("over_budget")]
    trained = [t for t in study.trials if not t.user_attrs.get("over_budget")]
    assert over and len(made) == len([t for t in trained if "reused_from" not in t.user_attrs])
    assert all(t.user_attrs["flops"] <= 2.5e6 for t in trained)
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert failed and all("non-finite" in t.user_attrs["fail_reason"] for t in failed)
    assert all(t.user_attrs["rung_accuracies"].keys() == {"1"} for t in failed)  # its first rung is kept
    assert evaluated_count(study) == 6


def test_signal_auto_recommending_a_signal_at_initialisation_becomes_halvings_screen(in_tmp, monkeypatch):
    """`nas calibrate` may recommend a signal at initialisation; under --fidelity sh it screens,
    and the trained rungs rank on accuracy (instead of a refusal naming a --signal never typed)."""
    from nas.cli import search as search_cli
    from nas.study.store.records import StudyRecord
    from nas.study.store.storage import load_handle

    monkeypatch.setattr(search_cli, "signal_of", lambda args: ("synflow", None))
    space = str(write_space(in_tmp))
    code, _, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "2", "--study", "a",
                           "--no-progress", "--fidelity", "sh", "--min-epochs", "0.2", "--max-epochs", "0.2",
                           "--signal", "auto")
    assert code == 0, err
    assert "synflow screens the candidates before training" in err
    record = StudyRecord.from_study(load_handle(None, "a").study)
    assert record.fidelity.screen == "synflow" and record.signal == "val_accuracy"
