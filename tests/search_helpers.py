"""A tiny search space and a fast fake trainer for testing the search logic."""

from __future__ import annotations

from pathlib import Path

import io

from nas.report.summary import report_search
from nas.study.search import SearchConfig, run_search
from nas.train.trainer import TrainConfig, TrainResult

TINY_SPACE = """
name: tiny
resolution: 16
stem: {channels: 8, kernel: 3, stride: 1, activation: relu}
stages:
  - {cells: [mb], kernels: [3], expansions: [1], repeats: [1], channels: [8, 16], stride: 1, activation: relu}
  - {cells: [mb, fmb], kernels: [3, 5], expansions: [2, 4], se_ratios: [0, 0.25], repeats: [1, 2], channels: [16, 24], stride: 2, activation: relu}
  - {cells: [mb, res], kernels: [3], expansions: [2], repeats: [1], channels: [24, 32], stride: 2, activation: relu}
head: {channels: 32, activation: relu, dropout: 0.0}
reference_archs:
  - name: small
    stages: [mb_r1_k3_s1_e1_c8_nre, mb_r1_k3_s2_e2_c16_nre, mb_r1_k3_s2_e2_c24_nre]
"""

TWO_ARCH_SPACE = TINY_SPACE.split("stages:")[0] + """stages:
  - {cells: [mb], kernels: [3], expansions: [1], repeats: [1], channels: [8, 16], stride: 1, activation: relu}
head: {channels: 16, activation: relu, dropout: 0.0}
"""


def write_space(tmp_path: Path, text: str = TINY_SPACE, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


class FakeTrainer:
    """Accuracy grows with FLOPs; records every genotype it trains; can fail on demand."""

    def __init__(self, fail_every: int = 0, error: type[Exception] | None = None) -> None:
        self.trained = []
        self.datasets = []
        self.fail_every = fail_every
        self.error = error

    def __call__(self, genotype, data, cfg, device, report=None, keep_model=False):
        from nas.model.cost import estimate_cost

        self.trained.append(genotype)
        self.datasets.append(data)
        if self.fail_every and len(self.trained) % self.fail_every == 0:
            raise (self.error or RuntimeError)("boom in candidate")
        acc = min(0.99, 0.5 + estimate_cost(genotype).flops / 4e6)
        if report is not None:
            for epoch in (1, 2):
                if report(epoch, acc * epoch / 2):
                    break
        return TrainResult(val_accuracy=acc, train_loss=0.1, train_time=0.01, total_time=0.02,
                           images_per_sec=1e5, epochs=2.0, device="cpu", epoch_accuracies=[])


def config(tmp_path: Path, **kw) -> SearchConfig:
    if "space" not in kw:
        kw["space"] = str(write_space(tmp_path))
    base = dict(dataset="digits", study="t", trials=6,
                train=TrainConfig(epochs=1), progress=False, write_files=True, seed=0,
                sampler="random")
    if not kw.get("flops_target") and not kw.get("latency_target_ms") and not kw.get("fidelity"):
        base["signal"] = "val_accuracy"  # the fake trainers train: rank by what they reached
    base.update(kw)
    return SearchConfig(**base)


def search(cfg: SearchConfig, trainer: "FakeTrainer"):
    """What ``nas search`` does: run the search with ``trainer``, then report (front, CSVs)."""
    study = run_search(cfg, out=io.StringIO(), trainer=trainer)
    report_search(study, out=io.StringIO(), write_files=cfg.write_files)
    return study


class FakeRun:
    """Successive halving's run, without training: accuracy rises with FLOPs and with epochs, plus a
    fixed per-genotype offset, so that rungs rank candidates differently than FLOPs alone."""

    def __init__(self, genotype, data, cfg, device, schedule, checkpoint=None) -> None:
        from nas.model.cost import estimate_cost

        self.flops = estimate_cost(genotype).flops
        self.offset = int(genotype.key()[:4], 16) / 0xFFFF * 0.2
        self.position = 0.0
        self.epochs_trained = 0.0
        self.resumed_from_epochs = 0.0
        self.train_time, self.images = 0.01, 1000

    def accuracy(self, epochs: float) -> float:
        return min(0.99, 0.3 + self.offset + 0.05 * epochs + self.flops / 2e7)

    def train_to(self, epochs: float):
        from nas.train.extendable import RungResult

        self.epochs_trained += epochs - self.position
        self.position = epochs
        from nas.train.signals import Signals

        acc = self.accuracy(epochs)  # TSE made to rank otherwise than accuracy: the offset counts against
        return RungResult(epochs, acc, 0.1, signals=Signals(val_accuracy=acc, tse=1.5 - acc + 2 * self.offset))

    def continued_past(self, epochs: float) -> bool:
        return self.position > epochs

    def discard_checkpoint(self) -> None:
        pass


def cli_search(tmp_path: Path, study: str, trials: int) -> None:
    """A small real search through the CLI (tiny space, digits, 0.2 epochs a candidate, random
    sampler), run from ``tmp_path``: what the CLI tests of the later commands start from."""
    from conftest import run_cli

    space = write_space(tmp_path)
    code, _, err = run_cli("search", "--space", str(space), "--dataset", "digits", "--trials", str(trials),
                           "--epochs", "0.2", "--study", study, "--no-progress", "--sampler", "random")
    assert code == 0, err
