"""Asynchronous multi-objective successive halving of one candidate (``search --fidelity sh``).

A candidate is trained to the first rung (``min_epochs``) and scored. It goes on to the next
rung only if it ranks in the top ``1/eta`` of every result that rung has so far (all trials of
the study, any worker; one result per genotype), ranked by non-dominated sorting on (accuracy at
that rung, FLOPs, or the measured latency with ``--objectives accuracy,latency``) with NSGA-II crowding distance as the tie-break, so that the promoted ones
spread along the front instead of crowding at its accurate end. Nothing waits for a rung to
fill (ASHA): the first result of a rung is always promoted, as in Optuna's
``SuccessiveHalvingPruner``, and later decisions see whatever has arrived. Every rung result is
written to the trial as soon as it exists, which is what other workers' decisions read.

What the sampler is told (the trial's values): accuracy at the highest rung the candidate
reached, and log10(FLOPs). A candidate stopped at a low rung therefore looks to GP or TPE like a
point of lower accuracy, which is what the promotion decision said about it (it ranked in the
lower part of its rung), and the sampler's model is pulled towards architectures that earned
longer training. The price: low-rung accuracies of small networks sit on the same scale as
top-rung ones of large networks, so the sampler sees a front biased against candidates that were
stopped early. The reported Pareto front (and knee, retrain, scale, export) uses only candidates
trained to the top rung, all at the same budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna

from ..arch.genotype import Genotype
from ..train.data import Dataset
from ..train.extendable import ExtendableRun, StableDecay
from ..train.trainer import TrainConfig
from ..pareto import promotion_order
from .store.records import TrialRecord
from ..train.rungs import Rungs, rung_key

RunFactory = Callable[..., ExtendableRun]
"""``factory(genotype, data, cfg, device, schedule, checkpoint) -> ExtendableRun`` (or anything
with its ``train_to``, ``continued_past``, ``epochs_trained``, ``resumed_from_epochs``,
``train_time``, ``images`` and ``discard_checkpoint``: tests pass fakes)."""


def cost_of(record: TrialRecord, cost: str) -> float:
    """The cost a rung ranks on: FLOPs, or measured latency (``--objectives accuracy,latency``)."""
    return float((record.latency_ms if cost == "latency" else record.flops) or 0)


def rung_results(trials: list[optuna.trial.FrozenTrial], rung: str, exclude_key: str | None,
                 cost: str = "flops") -> tuple[list[float], list[float]]:
    """(accuracies, costs) at ``rung`` of every other genotype in the study, once per genotype."""
    seen: set[str | None] = {exclude_key}
    acc, costs = [], []
    for t in sorted(trials, key=lambda t: t.number):
        r = TrialRecord.from_trial(t)
        if r.rung_accuracies is None or rung not in r.rung_accuracies or r.key in seen:
            continue
        seen.add(r.key)
        acc.append(float(r.rung_accuracies[rung]))
        costs.append(cost_of(r, cost))
    return acc, costs


def promotion(own_accuracy: float, own_flops: float, others: tuple[list[float], list[float]],
              eta: float) -> tuple[bool, int, int]:
    """(promoted, rank among the rung's results, number of results): the top
    ``max(1, n // eta)`` by :func:`nas.pareto.promotion_order` go on."""
    acc = np.array([*others[0], own_accuracy], float)
    flops = np.array([*others[1], own_flops], float)
    order = promotion_order(acc, flops)
    rank = int(np.flatnonzero(order == len(acc) - 1)[0])
    n = len(acc)
    return rank < max(1, int(n // eta)), rank, n


def checkpoint_path(directory: Path, genotype: Genotype, seed: int) -> Path:
    """Named by the candidate (not the trial), so a retry of a lost trial finds it."""
    return directory / f"{genotype.key()}-seed{seed}.pt"


class Halving:
    """Trains one candidate through the rungs; fills the trial's record as it goes."""

    def __init__(self, rungs: Rungs, checkpoint_dir: Path, run_factory: RunFactory = ExtendableRun,
                 cost: str = "flops") -> None:
        self.rungs, self.checkpoint_dir, self.run_factory = rungs, checkpoint_dir, run_factory
        self.cost = cost  # what accuracy is traded against when a rung ranks its results

    def __call__(self, trial: optuna.Trial, save: Callable[[TrialRecord], None], genotype: Genotype,
                 record: TrialRecord, data: Dataset, train: TrainConfig, device: object) -> TrialRecord:
        schedule = StableDecay(warmup_epochs=self.rungs.warmup_epochs, cooldown=self.rungs.cooldown)
        run = self.run_factory(genotype, data, train, device, schedule,
                               checkpoint_path(self.checkpoint_dir, genotype, train.seed))
        if run.resumed_from_epochs:
            record.resumed_from_epochs = run.resumed_from_epochs
        record.rung_accuracies, record.rung_ranks = {}, {}
        budgets = self.rungs.epochs
        for index, epochs in enumerate(budgets):
            result = run.train_to(epochs)
            key = rung_key(epochs)
            record.rung_accuracies = {**record.rung_accuracies, key: result.accuracy}
            record.rung, record.top_rung = index, index == len(budgets) - 1
            record.accuracy, record.train_loss, record.epochs = result.accuracy, result.train_loss, epochs
            save(record)  # other workers' promotion decisions read this
            if record.top_rung:
                break
            if run.continued_past(epochs):  # promoted before this trial's worker was lost
                continue
            others = rung_results(trial.study.get_trials(deepcopy=False), key, record.key, self.cost)
            promoted, rank, n = promotion(result.accuracy, cost_of(record, self.cost), others, self.rungs.eta)
            record.rung_ranks = {**record.rung_ranks, key: [rank, n]}
            if not promoted:
                break
        record.trained = True
        record.trained_epochs = run.epochs_trained
        record.train_time = run.train_time
        record.images_per_sec = run.images / run.train_time if run.train_time > 0 else 0.0
        record.device = str(device)
        run.discard_checkpoint()
        return record
