"""Multi-objective architecture search: the space proposes, the cost pre-check filters, the
candidate trains briefly, the study records it. Its work runs in the one loop
(:mod:`nas.study.run.loop`); this module says what evaluating one candidate means:

* over budget (analytic estimate, before any model is built): recorded with its constraint
  violation via ``Trial.set_constraint`` and never trained;
* already evaluated genotype (same :meth:`Genotype.key`): its result is reused and marked;
* otherwise trained by the ``trainer`` passed in (default :func:`train_candidate`); in the
  MnasNet reward mode each epoch's reward is reported to the pruner.

``--trials`` is the number of evaluated trials wanted in the study (trained, reused or failed
candidates; over-budget rejections and interrupted trials do not count), so rerunning the same
command after an interruption runs only the missing ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import optuna
import torch
from optuna.trial import TrialState

from ..arch.space import ENCODINGS, PARAM_ENCODING, SearchSpace
from ..arch.space_file import load_space
from ..arch.genotype import Genotype
from ..model.cost import estimate_cost
from ..train.data import Dataset
from ..train.sources import load_dataset
from ..train.extendable import ExtendableRun
from ..train.config import CandidateFailed, Trainer, TrainResult
from ..train.signals import ACCURACY, SIGNALS
from ..train.trainer import train_candidate
from ..train.zero_cost import signals_at_init
from .halving import Halving, RunFactory
from .latency_book import LatencyBook, recorded_in
from .run.steps import Outcome, TrialContext, evaluated_count
from .opening import prepare
from .run.driver import drive
from .run.placement import dataset_bytes
from .run.workload import Opened
from .run.progress import Progress
from .store.records import StudyRecord, TrialRecord
from .sampling.samplers import make_pruner, sampler_seed
from .search_config import SearchConfig
from .store.storage import load_handle, study_dir

optuna.logging.set_verbosity(optuna.logging.WARNING)



class CandidateEvaluator:
    """Evaluates one proposed candidate (the :class:`nas.study.run.loop.Evaluate` of a search)."""

    def __init__(self, cfg: SearchConfig, space: SearchSpace, data: Dataset, device: torch.device,
                 trainer: Trainer = train_candidate, run_factory: RunFactory = ExtendableRun,
                 encoding: str = "values") -> None:
        self.cfg, self.space, self.data, self.device, self.trainer = cfg, space, data, device, trainer
        self.encoding = encoding  # how the study stores ordered choices (nas.arch.space)
        self.halving = (Halving(cfg.fidelity, checkpoint_dir(cfg), run_factory, cfg.costs[0], cfg.signal)
                        if cfg.fidelity is not None else None)
        self.latencies = LatencyBook(cfg.latency_settings())
        self.duplicates = DuplicateIndex()

    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome:
        cfg = self.cfg
        g = self.space.sample(trial, self.data.in_channels, self.data.num_classes, self.encoding)
        cost = estimate_cost(g)
        record = TrialRecord(genotype=g.to_json(indent=None), arch=g.arch, key=g.key(),
                             params=cost.params, flops=cost.flops)
        over = False
        for name, limit, value in (("flops", cfg.flops_max, cost.flops), ("params", cfg.params_max, cost.params)):
            if limit is not None:
                violation = (value - limit) / limit
                trial.set_constraint(name, violation)
                over |= violation > 0
        if cfg.measures_latency and not over:  # a FLOPs-over candidate is not built, let alone timed
            record.latency_ms = self.latency_of(g, context.snapshot)
        if cfg.latency_max_ms is not None:
            # every trial carries the same constraint names: 0 where latency was not measured
            violation = 0.0 if record.latency_ms is None else (record.latency_ms - cfg.latency_max_ms) / cfg.latency_max_ms
            trial.set_constraint("latency", violation)
            over |= violation > 0
        if over:
            record.over_budget = True
            return Outcome(TrialState.COMPLETE, self.values(self.worst_score(context.snapshot), cost.flops,
                                                            record.latency_ms), record)

        previous = self.duplicates.find(context.snapshot, record.key, trial.number)
        if previous is not None:
            record.result_of(previous.record)
            record.reused_from = previous.number
            return Outcome(TrialState.COMPLETE, list(previous.values), record)

        context.save(record)  # a running trial shows its candidate; a failed one keeps it
        if self.halving is not None:
            self.halving(trial, context.save, g, record, self.data, cfg.train, self.device)
            score = record.score if record.score is not None else (record.accuracy or 0.0)
            return self.completed(trial.number, self.values(score, cost.flops, record.latency_ms), record)
        if SIGNALS[cfg.signal].at_init:  # scored before any training: nothing is trained
            record.signals = signals_at_init(g, self.data, cfg.train, self.device)
            record.score = record.signals.oriented(cfg.signal)
            if record.score is None:
                raise CandidateFailed(f"{cfg.signal} could not be computed for this network")
            return self.completed(trial.number, self.values(record.score, cost.flops, record.latency_ms), record)
        report = self.reporter(trial, cost.flops, record.latency_ms) if cfg.reward_mode else None
        result = self.trainer(g, self.data, cfg.train, self.device, report)
        record.trained = True
        record.accuracy, record.train_loss = result.val_accuracy, result.train_loss
        record.train_time, record.total_time = result.train_time, result.total_time
        record.images_per_sec, record.epochs, record.device = result.images_per_sec, result.epochs, result.device
        record.epoch_accuracies = result.epoch_accuracies or None
        record.signals = result.signals
        record.score = self.score(result)
        if cfg.reward_mode and cfg.pruner != "none" and trial.should_prune():
            return Outcome(TrialState.PRUNED, None, record)
        return self.completed(trial.number, self.values(record.score, cost.flops, record.latency_ms), record)

    def score(self, result: TrainResult) -> float:
        """The signal the search optimises (``--signal``), higher is better: the validation
        accuracy by default (a trainer that records no other signal gives that too)."""
        if self.cfg.signal == ACCURACY or result.signals is None:
            return result.val_accuracy
        value = result.signals.oriented(self.cfg.signal)
        if value is None:
            raise CandidateFailed(f"{self.cfg.signal} could not be computed for this network")
        return value

    def worst_score(self, snapshot: list[optuna.trial.FrozenTrial]) -> float:
        """What an over-budget candidate is told: 0 for accuracy; for another signal, as bad as
        the worst recorded so far (a far-off floor would distort a model-based sampler's fit)."""
        if self.cfg.signal == ACCURACY:
            return 0.0
        scores = [TrialRecord.from_trial(t).score for t in snapshot if t.state == TrialState.COMPLETE]
        return min((s for s in scores if s is not None), default=0.0)

    def completed(self, number: int, values: list[float], record: TrialRecord) -> Outcome:
        """A trained candidate's outcome, known to :attr:`duplicates` from now on."""
        self.duplicates.add(number, values, replace(record))
        return Outcome(TrialState.COMPLETE, values, record)

    def latency_of(self, g: Genotype, snapshot: list[optuna.trial.FrozenTrial]) -> float:
        """Measured once per genotype: an earlier trial's figure for the same key is reused (by
        every worker and every resumed run), else it is measured now, before any training."""
        if not self.latencies.knows(g.key()):
            self.latencies.learn(recorded_in(snapshot))
        return self.latencies.of(g)

    def reporter(self, trial: optuna.Trial, flops: int, latency_ms: float | None) -> Callable[[int, float], bool]:
        """Per-epoch reward to the pruner (MnasNet reward mode); True means stop training."""
        def report(epoch: int, acc: float) -> bool:
            trial.report(self.reward(acc, flops, latency_ms), epoch)
            return trial.should_prune()
        return report

    def values(self, accuracy: float, flops: int, latency_ms: float | None = None) -> list[float]:
        """Objectives told to the sampler: the score (``--signal``: validation accuracy by default,
        higher is better) and log10 of each cost (``--objectives``).

        The log leaves the Pareto front unchanged (it is monotone) but gives a model-based
        sampler an objective it can fit: FLOPs span two orders of magnitude across a space and
        multiply across choices (BENCHMARKS.md §3). Raw figures stay in the record. A candidate
        over the FLOPs or parameter budget is never timed: as its accuracy is told as 0, its
        latency is told as ten times the largest measured so far, worse than anything seen.
        """
        if self.cfg.reward_mode:
            return [self.reward(accuracy, flops, latency_ms)]
        if latency_ms is None and "latency" in self.cfg.costs:
            latency_ms = 10 * self.latencies.largest(default=self.cfg.latency_max_ms or 1.0)
        cost = {"flops": float(max(flops, 1)), "latency": latency_ms}
        return [accuracy] + [math.log10(cost[c]) for c in self.cfg.costs]

    def reward(self, accuracy: float, flops: float, latency_ms: float | None = None) -> float:
        """MnasNet: ACC x (cost / T)^w, w < 0 penalising a cost above the target T; the cost is
        FLOPs (``--flops-target``) or, as MnasNet had it, measured latency (``--latency-target``).
        A candidate that was not timed (over the FLOPs or parameter budget) has accuracy 0 here."""
        cfg = self.cfg
        if cfg.reward_on == "latency":
            if latency_ms is None:
                return 0.0
            return accuracy * (latency_ms / cfg.latency_target_ms) ** cfg.reward_exponent
        return accuracy * (flops / float(cfg.flops_target)) ** cfg.reward_exponent


def checkpoint_dir(cfg: SearchConfig) -> Path:
    """Where successive halving keeps run checkpoints: workers on other machines need it shared."""
    return Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else study_dir(cfg.study) / "checkpoints"


@dataclass(frozen=True)
class Evaluated:
    """A completed trial's result, as a repeat of its genotype reuses it."""

    number: int
    values: list[float]
    record: TrialRecord


class DuplicateIndex:
    """The study's evaluated genotypes by key, so that a repeated genotype reuses its result.

    A completed trial's record never changes, so each is read once: scanning the whole snapshot
    for every trial read every trial's record each time, ~n record parses per trial in a study of
    n (BENCHMARKS.md §2). The evaluator also adds its own results as it returns them
    (:meth:`add`): in an overlapped loop the trial before may still be being told when the next
    one is checked (nas.study.run.prefetch)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()  # trial numbers read or added
        self._first: dict[str, Evaluated] = {}  # key -> the lowest-numbered trial of it

    def add(self, number: int, values: list[float], record: TrialRecord) -> None:
        self._seen.add(number)
        if record.key is not None and not record.over_budget and (
                record.key not in self._first or number < self._first[record.key].number):
            self._first[record.key] = Evaluated(number, list(values), record)

    def find(self, trials: list[optuna.trial.FrozenTrial], key: str | None, number: int) -> Evaluated | None:
        """A completed, trained-or-reused trial of genotype ``key`` other than ``number``."""
        for t in trials:
            if t.state == TrialState.COMPLETE and t.number not in self._seen:
                self.add(t.number, list(t.values), TrialRecord.from_trial(t))
        found = self._first.get(key) if key is not None else None
        return found if found is not None and found.number != number else None


# ----- running ------------------------------------------------------------------------------------

@dataclass
class SearchReady:
    """What ``run_search`` has loaded in the command's own process (nas.study.run.driver)."""

    handle: StudyHandle
    space: SearchSpace
    data: Dataset


@dataclass
class SearchJob:
    """A search's part of the work (nas.study.run.workload.Workload; picklable)."""

    cfg: SearchConfig
    trainer: Trainer = train_candidate
    run_factory: RunFactory = ExtendableRun

    def open(self, index: int, device: str, ready: SearchReady | None = None) -> Opened:
        cfg = self.cfg
        if ready is None:  # a worker process: open the study, seeded for a joining worker
            handle = load_handle(cfg.storage, cfg.study, None, make_pruner(cfg.pruner), cfg.storage_retry)
            existing = len(handle.study.get_trials(deepcopy=False))
            handle.study.sampler = cfg.make_sampler(sampler_seed(cfg.seed, index, existing, joined=existing > 0))
            data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed, test_fraction=cfg.test_fraction)
            ready = SearchReady(handle, load_space(cfg.space), data)
        encoding = ENCODINGS[StudyRecord.from_study(ready.handle.study).param_encoding or PARAM_ENCODING]
        evaluate = CandidateEvaluator(cfg, ready.space, ready.data, torch.device(device), self.trainer, self.run_factory,
                                      encoding)
        progress = Progress(cfg.trials, ready.handle.study, cfg.progress,
                            prefix="" if cfg.workers == 1 else f"[worker {index}] ")
        return Opened(ready.handle, evaluate, cfg.loop_settings(device), progress.update, progress.close)


def run_search(cfg: SearchConfig, out: TextIO | None = None, trainer: Trainer = train_candidate,
               run_factory: RunFactory = ExtendableRun) -> optuna.Study:
    """Run (or resume) a search until the study holds ``cfg.trials`` evaluated trials.

    Returns the study; :func:`nas.report.summary.report_search` prints its front and writes
    the CSV files (the CLI does both).
    """
    space, data, handle = prepare(cfg)
    study = handle.study

    def setup(devices: list[str]) -> tuple[SearchReady, str]:
        return SearchReady(handle, space, data), (
            f"study {cfg.study!r}: {evaluated_count(study)} of {cfg.trials} trials done; {data.describe()}; "
            f"{cfg.workers} worker(s) on {', '.join(sorted(set(devices)))}; storage {cfg.storage}")

    def interrupted() -> str:
        return (f"\ninterrupted: {evaluated_count(study)} finished trials are kept in study "
                f"{study.study_name!r}; rerun the same command to resume")

    summary = drive(SearchJob(cfg, trainer, run_factory), cfg.workers_placement, setup,
                    study_name=cfg.study, interrupted=interrupted, out=out,
                    data_bytes=lambda: dataset_bytes(data.at_resolution(max(space.resolutions))))
    if summary is not None and summary.ran_out_of_asks:
        print(f"warning: stopped after {summary.asks} proposals, most over budget; the "
              f"budget is tight for this space", file=out)
    return study
