"""Multi-objective architecture search: the space proposes, the cost pre-check filters, the
candidate trains briefly, the study records it. Its work runs in the one loop
(:mod:`nas.study.loop`); this module says what evaluating one candidate means:

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
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import optuna
import torch
from optuna.trial import TrialState

from ..arch.space import PARAM_ENCODING, SearchSpace
from ..arch.space_file import load_space
from ..errors import UserError
from ..model.cost import FLOPS_CONVENTION, estimate_cost, space_min_cost
from ..train.data import Dataset, load_dataset
from ..train.trainer import TrainConfig, TrainResult, train_candidate
from ..units import human
from .liveness import DEFAULT_STALE_AFTER
from .loop import LoopSettings, Outcome, TrialContext, evaluated_count, run_loop
from .processes import assign_devices, run_workers
from .progress import Progress
from .records import StudyRecord, TrialRecord
from .samplers import DEFAULT_SAMPLER, make_pruner, make_sampler
from .storage import StudyHandle, load_handle, open_storage, resolve_storage_url, study_names

optuna.logging.set_verbosity(optuna.logging.WARNING)

Trainer = Callable[..., TrainResult]
"""``trainer(genotype, data, cfg, device, report=None) -> TrainResult``: :func:`train_candidate`
or anything with its signature (tests pass fakes; the retrain and multi-fidelity work pass theirs)."""


@dataclass
class SearchConfig:
    space: str = "mobile"
    dataset: str = "mnist5k"
    study: str = "demo"
    trials: int = 40
    train: TrainConfig = field(default_factory=TrainConfig)
    flops_max: float | None = None
    params_max: float | None = None
    flops_target: float | None = None  # MnasNet reward mode when set
    reward_exponent: float = -0.07
    sampler: str = DEFAULT_SAMPLER
    pruner: str = "none"
    seed: int = 0
    seed_archs: bool = False
    storage: str | None = None
    device: str = "auto"
    val_fraction: float = 0.2
    write_files: bool = True
    progress: bool = True
    command: str = ""
    workers: int = 1
    devices: list[int] | None = None  # GPU ids for the workers (default: all visible)
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0

    @property
    def reward_mode(self) -> bool:
        return self.flops_target is not None

    @property
    def n_objectives(self) -> int:
        return 1 if self.reward_mode else 2

    def loop_settings(self) -> LoopSettings:
        # Over-budget proposals are cheap but not endless: a budget that excludes most of the
        # space stops the search with a warning instead of asking forever.
        return LoopSettings(total=self.trials, stale_after=self.stale_after,
                            poll_interval=self.poll_interval, max_asks=20 * self.trials + 100)


class CandidateEvaluator:
    """Evaluates one proposed candidate (the :class:`nas.study.loop.Evaluate` of a search)."""

    def __init__(self, cfg: SearchConfig, space: SearchSpace, data: Dataset, device: torch.device,
                 trainer: Trainer = train_candidate) -> None:
        self.cfg, self.space, self.data, self.device, self.trainer = cfg, space, data, device, trainer

    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome:
        cfg = self.cfg
        g = self.space.sample(trial, self.data.in_channels, self.data.num_classes)
        cost = estimate_cost(g)
        record = TrialRecord(genotype=g.to_json(indent=None), arch=g.arch, key=g.key(),
                             params=cost.params, flops=cost.flops)
        over = False
        for name, limit, value in (("flops", cfg.flops_max, cost.flops), ("params", cfg.params_max, cost.params)):
            if limit is not None:
                violation = (value - limit) / limit
                trial.set_constraint(name, violation)
                over |= violation > 0
        if over:
            record.over_budget = True
            return Outcome(TrialState.COMPLETE, self.values(0.0, cost.flops), record)

        previous = find_duplicate(context.snapshot, record.key, trial.number)
        if previous is not None:
            record.result_of(TrialRecord.from_trial(previous))
            record.reused_from = previous.number
            return Outcome(TrialState.COMPLETE, list(previous.values), record)

        context.save(record)  # a running trial shows its candidate; a failed one keeps it
        report = None
        if cfg.reward_mode:
            def report(epoch: int, acc: float) -> bool:
                trial.report(self.reward(acc, cost.flops), epoch)
                return trial.should_prune()
        result = self.trainer(g, self.data, cfg.train, self.device, report)
        record.trained = True
        record.accuracy, record.train_loss = result.val_accuracy, result.train_loss
        record.train_time, record.total_time = result.train_time, result.total_time
        record.images_per_sec, record.epochs, record.device = result.images_per_sec, result.epochs, result.device
        record.epoch_accuracies = result.epoch_accuracies or None
        if cfg.reward_mode and cfg.pruner != "none" and trial.should_prune():
            return Outcome(TrialState.PRUNED, None, record)
        return Outcome(TrialState.COMPLETE, self.values(result.val_accuracy, cost.flops), record)

    def values(self, accuracy: float, flops: int) -> list[float]:
        """Objectives told to the sampler: accuracy and log10(FLOPs).

        The log leaves the Pareto front unchanged (it is monotone) but gives a model-based
        sampler an objective it can fit: FLOPs span two orders of magnitude across a space and
        multiply across choices (BENCHMARKS.md §3). Raw FLOPs stay in the record's ``flops``.
        """
        if self.cfg.reward_mode:
            return [self.reward(accuracy, flops)]
        return [accuracy, math.log10(max(flops, 1))]

    def reward(self, accuracy: float, flops: float) -> float:
        """MnasNet: ACC x (FLOPs / T)^w, w < 0 penalises FLOPs above the target T."""
        return accuracy * (flops / float(self.cfg.flops_target)) ** self.cfg.reward_exponent


def find_duplicate(trials: list[optuna.trial.FrozenTrial], key: str | None,
                   number: int) -> optuna.trial.FrozenTrial | None:
    """A completed, trained-or-reused trial of the same genotype, if the study has one."""
    for t in trials:
        if t.state == TrialState.COMPLETE and t.number != number:
            r = TrialRecord.from_trial(t)
            if r.key == key and not r.over_budget:
                return t
    return None


# ----- study set-up -------------------------------------------------------------------------------

def study_record(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> StudyRecord:
    return StudyRecord(
        command=cfg.command, space_name=space.name, space_source=space.source, space_text=space.text,
        dataset=cfg.dataset, dataset_summary=data.describe(), seed=cfg.seed, sampler=cfg.sampler,
        objectives=["reward"] if cfg.reward_mode else ["accuracy", "log10_flops"],
        param_encoding=PARAM_ENCODING, train_config=cfg.train.to_dict(), flops_max=cfg.flops_max,
        params_max=cfg.params_max, flops_target=cfg.flops_target, reward_exponent=cfg.reward_exponent,
        val_fraction=cfg.val_fraction, in_channels=data.in_channels, num_classes=data.num_classes,
        flops_convention=FLOPS_CONVENTION, torch=torch.__version__, optuna=optuna.__version__,
        python=platform.python_version())


def study_dataset(record: StudyRecord) -> Dataset:
    """The dataset (and split) a study was searched on, for every later command."""
    return load_dataset(record.dataset, record.val_fraction, record.seed)


def open_study(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> StudyHandle:
    """Create the study, or load it after checking that it was made with the same settings."""
    storage = open_storage(cfg.storage, cfg.study)
    directions = ["maximize"] if cfg.reward_mode else ["maximize", "minimize"]
    sampler, pruner = make_sampler(cfg.sampler, cfg.seed, cfg.n_objectives), make_pruner(cfg.pruner)
    if cfg.study in study_names(storage):
        study = optuna.load_study(study_name=cfg.study, storage=storage, sampler=sampler, pruner=pruner)
        _check_resumable(study, cfg, space, directions)
        return StudyHandle(study, storage, cfg.storage)
    study = optuna.create_study(study_name=cfg.study, storage=storage, directions=directions,
                                sampler=sampler, pruner=pruner)
    study_record(cfg, space, data).write(study)
    if cfg.seed_archs:
        for g in space.reference_genotypes(data.in_channels, data.num_classes):
            study.enqueue_trial(space.params_for(g), user_attrs=TrialRecord(reference=g.name).to_attrs(),
                                skip_if_exists=True)
    return StudyHandle(study, storage, cfg.storage)


def _check_resumable(study: optuna.Study, cfg: SearchConfig, space: SearchSpace, directions: list[str]) -> None:
    rec = StudyRecord.from_study(study)
    if [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {cfg.study!r} exists with objectives {rec.objectives}; "
                        f"use another --study name for a different objective")
    if rec.param_encoding != PARAM_ENCODING:
        raise UserError(f"study {cfg.study!r} was made by an earlier version of this toolkit "
                        f"(parameter encoding {rec.param_encoding!r}, now {PARAM_ENCODING!r}); "
                        f"use another --study name")
    if rec.space_text not in (None, space.text):
        raise UserError(f"study {cfg.study!r} was made with a different search space "
                        f"({rec.space_source}); use another --study name")
    if "dataset" in study.user_attrs and rec.dataset != cfg.dataset:
        raise UserError(f"study {cfg.study!r} was made on dataset {rec.dataset!r}; use another --study name")


def check_budget(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> None:
    """Refuse, before any training, a budget that no genotype in the space can meet."""
    if cfg.flops_max is None and cfg.params_max is None:
        return
    min_params, min_flops = space_min_cost(space, data.in_channels, data.num_classes)
    if cfg.flops_max is not None and min_flops > cfg.flops_max:
        raise UserError(f"--flops-max {human(cfg.flops_max)} is impossible: the smallest architecture "
                        f"in {space.source} needs {human(min_flops)} FLOPs ({FLOPS_CONVENTION})")
    if cfg.params_max is not None and min_params > cfg.params_max:
        raise UserError(f"--params-max {human(cfg.params_max)} is impossible: the smallest "
                        f"architecture in {space.source} has {human(min_params)} parameters")


def prepare(cfg: SearchConfig) -> tuple[SearchSpace, Dataset, StudyHandle]:
    """Validate everything the user gave, then create or load the study (before any worker)."""
    if cfg.trials < 1:
        raise UserError(f"--trials must be >= 1, got {cfg.trials}")
    if cfg.workers < 1:
        raise UserError(f"--workers must be >= 1, got {cfg.workers}")
    space = load_space(cfg.space)
    data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed)
    check_budget(cfg, space, data)
    cfg.storage = resolve_storage_url(cfg.storage, cfg.study, cfg.workers)
    return space, data, open_study(cfg, space, data)


# ----- running ------------------------------------------------------------------------------------

@dataclass
class SearchJob:
    """A search worker's part (picklable: it crosses into spawned worker processes)."""

    cfg: SearchConfig
    trainer: Trainer = train_candidate

    def open(self, index: int, device: str):  # noqa: ANN201 - see nas.study.processes.WorkerJob
        cfg = self.cfg
        sampler = make_sampler(cfg.sampler, cfg.seed + 1000 * index, cfg.n_objectives)
        handle = load_handle(cfg.storage, cfg.study, sampler, make_pruner(cfg.pruner))
        data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed)
        evaluate = CandidateEvaluator(cfg, load_space(cfg.space), data, torch.device(device), self.trainer)
        progress = Progress(cfg.trials, handle.study, cfg.progress, prefix=f"[worker {index}] ")
        return handle, evaluate, cfg.loop_settings(), progress.update


def _interrupted_message(study: optuna.Study) -> str:
    return (f"\ninterrupted: {evaluated_count(study)} finished trials are kept in study "
            f"{study.study_name!r}; rerun the same command to resume")


def run_search(cfg: SearchConfig, out: TextIO = sys.stdout, trainer: Trainer = train_candidate) -> optuna.Study:
    """Run (or resume) a search until the study holds ``cfg.trials`` evaluated trials.

    Returns the study; :func:`nas.report.summary.report_search` prints its front and writes
    the CSV files (the CLI does both).
    """
    space, data, handle = prepare(cfg)
    study = handle.study
    devices = assign_devices(cfg.device, cfg.workers, cfg.devices)
    print(f"study {cfg.study!r}: {evaluated_count(study)} of {cfg.trials} trials done; {data.describe()}; "
          f"{cfg.workers} worker(s) on {', '.join(sorted(set(devices)))}; storage {cfg.storage}", file=out)
    try:
        if cfg.workers == 1:
            evaluate = CandidateEvaluator(cfg, space, data, torch.device(devices[0]), trainer)
            progress = Progress(cfg.trials, study, cfg.progress)
            try:
                summary = run_loop(handle, evaluate, cfg.loop_settings(), progress.update)
            finally:
                progress.close()
            if summary.ran_out_of_asks:
                print(f"warning: stopped after {summary.asks} proposals, most over budget; the "
                      f"budget is tight for this space", file=out)
        else:
            codes = run_workers(SearchJob(cfg, trainer), devices)
            bad = [c for c in codes if c not in (0, None)]
            if bad:
                print(f"warning: {len(bad)} worker(s) exited with codes {bad}; finished trials are kept", file=out)
    except KeyboardInterrupt:
        print(_interrupted_message(study), file=out)
        raise
    return study
