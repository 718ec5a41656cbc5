"""Asynchronous multi-objective successive halving of one candidate (``search --fidelity sh``).

Where the rungs have a screen (the default, ``--screen naswot``), the candidate is first scored
by that signal at initialisation, nothing trained, and ranked against every screened result so
far by the rule below; only the top ``1/eta`` are trained at all. Then a candidate is trained to
the first trained rung (``min_epochs``) and scored. It goes on to the next
rung only if it ranks in the top ``1/eta`` of every result that rung has so far (all trials of
the study, any worker; one result per genotype), ranked by non-dominated sorting on (the score at
that rung: validation accuracy, or the ``--signal`` the search optimises, e.g. TSE; and FLOPs, or
the measured latency with ``--objectives accuracy,latency``) with NSGA-II crowding distance as the
tie-break, so that the promoted ones
spread along the front instead of crowding at its accurate end. Nothing waits for a rung to
fill (ASHA): the first result of a rung is always promoted, as in Optuna's
``SuccessiveHalvingPruner``, and later decisions see whatever has arrived. Every rung result is
written to the trial as soon as it exists, which is what other workers' decisions read.

What the sampler is told (the trial's values): the score at the highest rung the candidate
reached, and log10(FLOPs); what it *proposes from* is one rung's results only, BOHB's rule
(:mod:`nas.study.sampling.rung_view`): the highest rung with at least (parameters + 1) finished
results, the lowest until then, with candidates stopped below it shown as stopped rather than as
low-accuracy architectures. Before that rule the sampler read every trial's highest-rung score on
one scale, and a small network stopped at 1 epoch looked like a poor one at 9 (BENCHMARKS.md
§11b). Measured since (§16, our own table, 20 repeats at 400 epochs): within such budgets the top
rung never holds parameters + 1 results, so proposals come from the first rung, and model-based
proposals were -0.42 sd below random ones there, the first rung's 1-epoch accuracy ranking long
training at tau +0.20 only; with the screen (tau +0.50) the lowest rung is the screen's, and
halving reached 0.764 of the pool's hypervolume against 0.508 without it. The reported Pareto front (and knee, retrain, scale, export) uses only candidates
trained to the top rung, all at the same budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna

from ..arch.genotype import Genotype
from ..train.data import Dataset
from ..train.config import CandidateFailed
from ..train.extendable import ExtendableRun, RungResult, StableDecay
from ..train.signals import ACCURACY
from ..train.trainer import TrainConfig
from ..pareto import promotion_order
from .store.records import TrialRecord
from ..train.rungs import SCREEN_KEY, Rungs, rung_key

RunFactory = Callable[..., ExtendableRun]
"""``factory(genotype, data, cfg, device, schedule, checkpoint) -> ExtendableRun`` (or anything
with its ``train_to``, ``continued_past``, ``epochs_trained``, ``resumed_from_epochs``,
``train_time``, ``images`` and ``discard_checkpoint``: tests pass fakes)."""


def cost_of(record: TrialRecord, cost: str) -> float:
    """The cost a rung ranks on: FLOPs, or measured latency (``--objectives accuracy,latency``)."""
    return float((record.latency_ms if cost == "latency" else record.flops) or 0)


def rung_results(trials: list[optuna.trial.FrozenTrial], rung: str, exclude_key: str | None,
                 cost: str = "flops") -> tuple[list[float], list[float]]:
    """(scores, costs) at ``rung`` of every other genotype in the study, once per genotype: the
    score the study ranks on (``rung_scores``; a study from before signals ranked accuracy)."""
    seen: set[str | None] = {exclude_key}
    scores, costs = [], []
    for t in sorted(trials, key=lambda t: t.number):
        r = TrialRecord.from_trial(t)
        by_rung = r.rung_scores if r.rung_scores is not None else r.rung_accuracies
        if by_rung is None or rung not in by_rung or r.key in seen:
            continue
        seen.add(r.key)
        scores.append(float(by_rung[rung]))
        costs.append(cost_of(r, cost))
    return scores, costs


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
                 cost: str = "flops", signal: str = ACCURACY) -> None:
        self.rungs, self.checkpoint_dir, self.run_factory = rungs, checkpoint_dir, run_factory
        self.cost = cost  # what the score is traded against when a rung ranks its results
        self.signal = signal  # what a rung ranks on (search --signal): a signal of the trained run

    def score(self, result: RungResult) -> float:
        """The rung's score, higher is better: validation accuracy, or ``--signal`` oriented."""
        if self.signal == ACCURACY or result.signals is None:
            return result.accuracy
        value = result.signals.oriented(self.signal)
        if value is None:
            raise CandidateFailed(f"{self.signal} could not be computed at the rung of {result.epochs:g} epochs")
        return value

    def __call__(self, trial: optuna.Trial, save: Callable[[TrialRecord], None], genotype: Genotype,
                 record: TrialRecord, data: Dataset, train: TrainConfig, device: object) -> TrialRecord:
        record.rung_accuracies, record.rung_scores, record.rung_ranks = {}, {}, {}
        if self.rungs.screen is not None and not self.screened_in(trial, save, genotype, record, data, train, device):
            return record  # ranked at initialisation only: nothing trained
        offset = 1 if self.rungs.screen is not None else 0  # the rung index of the first trained rung
        schedule = StableDecay(warmup_epochs=self.rungs.warmup_epochs, cooldown=self.rungs.cooldown)
        run = self.run_factory(genotype, data, train, device, schedule,
                               checkpoint_path(self.checkpoint_dir, genotype, train.seed))
        if run.resumed_from_epochs:
            record.resumed_from_epochs = run.resumed_from_epochs
        budgets = self.rungs.epochs
        for index, epochs in enumerate(budgets):
            result = run.train_to(epochs)
            key = rung_key(epochs)
            score = self.score(result)
            record.rung_accuracies = {**record.rung_accuracies, key: result.accuracy}
            record.rung_scores = {**record.rung_scores, key: score}
            record.rung, record.top_rung = offset + index, index == len(budgets) - 1
            record.accuracy, record.train_loss, record.epochs = result.accuracy, result.train_loss, epochs
            record.signals, record.score = result.signals, score
            save(record)  # other workers' promotion decisions read this
            if record.top_rung:
                break
            if run.continued_past(epochs):  # promoted before this trial's worker was lost
                continue
            if not self.promoted(trial, record, key, score):
                break
        record.trained = True
        record.trained_epochs = run.epochs_trained
        record.train_time = run.train_time
        record.images_per_sec = run.images / run.train_time if run.train_time > 0 else 0.0
        record.device = str(device)
        run.discard_checkpoint()
        return record

    def promoted(self, trial: optuna.Trial, record: TrialRecord, key: str, score: float) -> bool:
        """Whether the candidate ranks in the top 1/eta of rung ``key``'s results so far; its rank
        is recorded either way."""
        others = rung_results(trial.study.get_trials(deepcopy=False), key, record.key, self.cost)
        promoted, rank, n = promotion(score, cost_of(record, self.cost), others, self.rungs.eta)
        record.rung_ranks = {**record.rung_ranks, key: [rank, n]}
        return promoted

    def screened_in(self, trial: optuna.Trial, save: Callable[[TrialRecord], None], genotype: Genotype,
                    record: TrialRecord, data: Dataset, train: TrainConfig, device: object) -> bool:
        """The screen: the candidate's zero-cost signals at initialisation (as the trainer would
        initialise it), ranked on ``rungs.screen`` against the rung's other results; whether it
        goes on to training. Why a screen: on our own table it made halving reach 0.764 of the
        pool's hypervolume against 0.508 without (BENCHMARKS.md §16)."""
        from ..train.zero_cost import signals_at_init

        signals = signals_at_init(genotype, data, train, device)
        score = signals.oriented(self.rungs.screen)
        if score is None:
            raise CandidateFailed(f"the screen's {self.rungs.screen} could not be computed for this network")
        record.rung_scores = {SCREEN_KEY: score}
        record.rung, record.top_rung, record.epochs = 0, False, 0.0
        record.signals, record.score = signals, score
        save(record)  # other workers' promotion decisions read this
        return self.promoted(trial, record, SCREEN_KEY, score)
