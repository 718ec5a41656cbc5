import math

import pytest
import torch

from nas import Genotype, Head, Stem, build_model
from nas.arch.arch_string import parse_stage
from nas.train.sources import load_dataset
from nas.train.trainer import (CandidateFailed, DeviceData, TrainConfig, augment, evaluate,
                       recalibrate_batchnorm, train_candidate)

from conftest import requires_cuda


def small_net(resolution: int = 16) -> Genotype:
    """About 20k parameters."""
    return Genotype(stem=Stem(16, 3, 1, "relu"),
                    stages=(parse_stage("mb_r1_k3_s1_e1_c16_nre"), parse_stage("mb_r1_k3_s2_e4_c24_nre"),
                            parse_stage("mb_r1_k3_s2_e4_c32_se0.25_nre")),
                    head=Head(64, "relu", 0.0), resolution=resolution, in_channels=1, num_classes=10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_trainer_learns_far_above_chance_within_seconds(digits):
    r = train_candidate(small_net(), digits, TrainConfig(epochs=3), "cpu")
    assert r.val_accuracy > 0.8
    assert r.images_per_sec > 0
    assert math.isfinite(r.train_loss) and r.epochs == pytest.approx(3.0)


def test_seeded_cpu_runs_reproduce_the_same_accuracy(digits):
    cfg = TrainConfig(epochs=1, seed=7)
    a = train_candidate(small_net(), digits, cfg, "cpu")
    b = train_candidate(small_net(), digits, cfg, "cpu")
    assert a.val_accuracy == b.val_accuracy and a.train_loss == b.train_loss


def test_bn_recalibration_recovers_accuracy_after_brief_training(digits):
    """Without recalibration, running stats still remember the untrained net."""
    with_recal = train_candidate(small_net(), digits, TrainConfig(epochs=1), "cpu")
    without = train_candidate(small_net(), digits, TrainConfig(epochs=1, bn_recalibration_batches=0), "cpu")
    assert with_recal.val_accuracy > without.val_accuracy + 0.05


def test_recalibrated_statistics_equal_exact_batch_statistics():
    model = build_model(small_net()).eval()
    batches = [torch.randn(32, 1, 16, 16) * 3 + 1 for _ in range(4)]
    recalibrate_batchnorm(model, batches, torch.no_grad)
    bn = model.stem[1]
    features = torch.cat([model.stem[0](b) for b in batches])
    torch.testing.assert_close(bn.running_mean, features.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.1 and not bn.training


def test_augment_crops_and_flips_without_changing_content_statistics():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    out = augment(x, pad=2, flip=True, gen=gen)
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    centre = augment(x, pad=0, flip=False, gen=gen)
    assert torch.equal(centre, x)  # zero padding, zero shift: identity


def test_non_finite_loss_is_a_candidate_failure(digits):
    with pytest.raises(CandidateFailed, match="non-finite"):
        train_candidate(small_net(), digits, TrainConfig(epochs=1, lr=1e30), "cpu")


def test_time_budget_stops_training(digits, monkeypatch):
    """A fake clock (0.05 s per reading) makes the budget deterministic: 0.5 s is about 10 steps,
    less than one epoch of digits' training split (17 steps at batch 64)."""
    import nas.train.trainer

    clock = iter(i * 0.05 for i in range(10**6))
    monkeypatch.setattr(nas.train.trainer.time, "perf_counter", lambda: next(clock))
    r = train_candidate(small_net(), digits, TrainConfig(epochs=None, time_budget=0.5), "cpu")
    assert 0 < r.epochs < 1


def test_report_gets_per_epoch_accuracy_and_can_stop(digits):
    seen = []
    r = train_candidate(small_net(), digits, TrainConfig(epochs=3), "cpu",
                        report=lambda epoch, acc: seen.append((epoch, acc)) or epoch >= 2)
    assert [e for e, _ in seen] == [1, 2]
    assert r.epochs == pytest.approx(2.0)


@requires_cuda
def test_cuda_path_bf16_channels_last(digits):
    r = train_candidate(small_net(), digits, TrainConfig(epochs=2), "cuda")
    assert r.device.startswith("cuda") and r.val_accuracy > 0.5
    dd = DeviceData.get(digits, 16, torch.device("cuda"))
    assert dd.x_train.is_cuda


def test_device_copy_is_cached_on_its_dataset_and_freed_with_it():
    """A cache keyed by id(data) outlived its dataset, so a new dataset allocated at the freed
    address was handed the old tensors. The device copy now belongs to the dataset object."""
    import gc
    import weakref

    from nas.train.data import Dataset

    def dataset(fill: int) -> Dataset:
        x, y = torch.full((4, 1, 8, 8), fill, dtype=torch.uint8), torch.tensor([0, 1, 0, 1])
        return Dataset("d", x, y, x.clone(), y.clone(), 2, False)

    a, b = dataset(1), dataset(2)
    assert int(DeviceData.get(b, 8, torch.device("cpu")).x_train.max()) == 2
    copy = DeviceData.get(a, 8, torch.device("cpu"))
    assert int(copy.x_train.max()) == 1  # never another dataset's tensors
    assert DeviceData.get(a, 8, torch.device("cpu")) is copy  # made once per dataset
    ref = weakref.ref(copy)
    del a, copy
    gc.collect()
    assert ref() is None  # nothing can hand the freed dataset's tensors to a newcomer


@pytest.mark.parametrize("lr", [0.05, 1e30])  # a candidate that trains, and one that fails
def test_trainer_trains_on_one_thread_fewer_while_one_is_lent_and_takes_it_back(digits, monkeypatch, lr):
    """While a background ask holds a lent thread (nas.train.thread_loan), every step runs on one
    intra-op thread fewer; the trainer's own count is back afterwards, even after a failure."""
    from nas.train import thread_loan, trainer

    torch.set_num_threads(2)
    counts: list[int] = []
    real_step = trainer.sgd_step

    def counting_step(*args, **kw):
        counts.append(torch.get_num_threads())
        return real_step(*args, **kw)

    monkeypatch.setattr(trainer, "sgd_step", counting_step)
    with thread_loan.lend_thread():
        assert thread_loan.threads_lent() == 1
        try:
            train_candidate(small_net(), digits, TrainConfig(epochs=0.3, lr=lr), "cpu")
        except CandidateFailed:
            assert lr > 1
    assert counts and set(counts) == {1}
    assert torch.get_num_threads() == 2 and thread_loan.threads_lent() == 0
    counts.clear()
    train_candidate(small_net(), digits, TrainConfig(epochs=0.1), "cpu")
    assert set(counts) == {2}  # nothing lent: all threads


class _Terminal:
    """A stand-in for an interactive stdout."""

    def __init__(self, tty: bool) -> None:
        self.lines: list[str] = []
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.lines += [line for line in text.splitlines() if line]

    def flush(self) -> None:
        pass


def test_a_long_run_prints_epoch_lines_to_a_terminal_only_and_not_when_quiet(digits):
    """Issue 33: a per-epoch line within a long run (rate-limited; here every=0), none for the
    last epoch (the run's result line follows), none where output is not a terminal or with
    ``--quiet``."""
    from nas.train.epoch_lines import quiet, watching

    cfg = TrainConfig(epochs=3)
    terminal, log, hushed = _Terminal(True), _Terminal(False), _Terminal(True)
    with watching("knee seed 0", terminal, every=0.0):
        train_candidate(small_net(), digits, cfg, "cpu")
    with watching("knee seed 0", log, every=0.0):
        train_candidate(small_net(), digits, cfg, "cpu")
    with quiet(), watching("knee seed 0", hushed, every=0.0):
        train_candidate(small_net(), digits, cfg, "cpu")
    assert [line.split(",")[0] for line in terminal.lines] == ["    knee seed 0: epoch 1/3", "    knee seed 0: epoch 2/3"]
    assert "train loss" in terminal.lines[0] and "left" in terminal.lines[0]
    assert log.lines == [] and hushed.lines == []
    train_candidate(small_net(), digits, TrainConfig(epochs=1), "cpu")  # nobody watching: no error
