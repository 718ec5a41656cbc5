"""``calibrate``: how far a brief training's signals rank architectures as long training does, on the
user's own data, and which signal and budget a search should optimise (issue 31).

It trains ``samples`` uniformly random genotypes of the space (within ``--flops-max``, as the
search would see them) and the space's reference architectures once at each brief budget
(recording every signal, nas.train.signals) and at the target budget with ``seeds`` seeds (the
reference ranking: the seeds' mean validation accuracy; their agreement is the ceiling no brief
signal can beat). Each run is a trial of the calibration study, enqueued as a job and run by the
one loop (nas.study.run), so a calibration resumes after Ctrl-C or a killed worker and
``--workers N`` share it. nas.report.calibration turns the study into the table, the
recommendation and the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TextIO

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from ..arch.genotype import Genotype
from ..arch.space import SearchSpace
from ..arch.space_file import load_space
from ..errors import UserError
from ..model.cost import estimate_cost
from ..train.config import Trainer, TrainConfig
from ..train.data import Dataset
from ..train.epoch_lines import watching
from ..train.sources import load_dataset
from ..train.trainer import train_candidate
from .retrain import enqueue_missing, take_job, trained_fields
from .run.driver import drive
from .run.placement import dataset_bytes
from .run.progress import Countdown
from .run.settings import LoopSettings, Workers
from .run.steps import Outcome, TrialContext, evaluated_count
from .run.workload import Opened
from .store.records import TrialRecord
from .store.storage import StudyHandle, load_handle, name_objectives, open_storage, resolve_storage_url
from .calibrate_config import CalibrateConfig, default_study_name  # noqa: F401 - public here too

NO_JOB = "surplus: no calibration job was left to take"
SAMPLE_SEED = 20_261_201  # the genotypes a calibration draws: fixed, so a rerun resumes the same ones


class RandomChoices:
    """A :class:`~nas.arch.space.TrialLike` that picks every choice uniformly at random."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: tuple) -> object:
        return choices[int(self.rng.integers(len(choices)))]

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))


def genotypes_to_calibrate(space: SearchSpace, data: Dataset, samples: int,
                           flops_max: float | None) -> list[tuple[str, Genotype]]:
    """The space's references, then ``samples`` distinct uniformly random genotypes (the same ones
    on every run), all within ``flops_max``."""
    chosen = [(f"reference {g.name}", g) for g in space.reference_genotypes(data.in_channels, data.num_classes)]
    chosen = [(label, g) for label, g in chosen if flops_max is None or estimate_cost(g).flops <= flops_max]
    rng, seen, randoms = np.random.default_rng(SAMPLE_SEED), {g.key() for _, g in chosen}, 0
    for _ in range(200 * samples):  # a tight --flops-max rejects most draws; this many is enough
        if randoms == samples:
            break
        g = space.sample(RandomChoices(rng), data.in_channels, data.num_classes)
        if g.key() in seen or (flops_max is not None and estimate_cost(g).flops > flops_max):
            continue
        seen.add(g.key())
        chosen.append((f"random {randoms}", g))
        randoms += 1
    return chosen


def jobs(cfg: CalibrateConfig, genotypes: list[tuple[str, Genotype]]) -> list[TrialRecord]:
    """Each genotype at each brief budget (seed 0) and at the target with every seed."""
    out = []
    for label, g in genotypes:
        cost = estimate_cost(g)
        runs = [(b, 0) for b in cfg.budgets] + [(cfg.target_epochs, s) for s in range(cfg.seeds)]
        for epochs, seed in runs:
            out.append(TrialRecord(genotype=g.to_json(indent=None), arch=g.arch, key=g.key(), params=cost.params,
                                   flops=cost.flops, label=label, seed=seed, budget_epochs=float(epochs)))
    return out


class CalibrationEvaluator:
    """Trains one job as the search trains a candidate (train split, scored on validation) and
    records every signal. The zero-cost signals, the same at every budget for one seed, are
    computed once, in the smallest budget's run."""

    def __init__(self, data: Dataset, cfg: TrainConfig, device: torch.device, smallest: float,
                 trainer: Trainer = train_candidate, out: TextIO | None = None,
                 countdown: Countdown | None = None) -> None:
        self.data, self.cfg, self.device, self.smallest = data, cfg, device, smallest
        self.trainer, self.out, self.countdown = trainer, out, countdown

    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome:
        taken = take_job(trial, "calibration")
        if taken is None:
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=NO_JOB))
        job, g = taken
        zero_cost = job.budget_epochs == self.smallest and job.seed == 0
        cfg = replace(self.cfg, epochs=job.budget_epochs, time_budget=None, seed=job.seed, zero_cost=zero_cost)
        with watching(f"{job.label}, {job.budget_epochs:g} epochs, seed {job.seed}", self.out):
            result = self.trainer(g, self.data, cfg, self.device)
        record = replace(job, accuracy=result.val_accuracy, signals=result.signals, **trained_fields(result))
        if self.out is not None:
            unit = "epoch" if job.budget_epochs == 1 else "epochs"
            print(f"  {job.label}: {job.budget_epochs:g} {unit}, seed {job.seed}: validation accuracy "
                  f"{result.val_accuracy:.4f} ({result.total_time:.1f}s)"
                  + (f" {self.countdown.tick(result.total_time)}" if self.countdown is not None else ""),
                  file=self.out, flush=True)
        return Outcome(TrialState.COMPLETE, [result.val_accuracy], record)


@dataclass
class CalibrateReady:
    """What ``run_calibration`` has loaded in the command's own process (nas.study.run.driver)."""

    handle: StudyHandle
    data: Dataset
    out: TextIO | None


@dataclass
class CalibrateJob:
    """A calibration's part of the work (nas.study.run.workload.Workload; picklable)."""

    cfg: CalibrateConfig
    storage_url: str | None
    total: int
    trainer: Trainer = train_candidate
    done_at_start: int = 0  # runs finished or running elsewhere when this command began (its countdown)

    def open(self, index: int, device: str, ready: CalibrateReady | None = None) -> Opened:
        cfg = self.cfg
        if ready is None:  # a worker process
            handle = load_handle(self.storage_url, cfg.study_name, retry_window=cfg.storage_retry)
            ready = CalibrateReady(handle, _data(cfg), out=None)
        evaluate = CalibrationEvaluator(ready.data, cfg.train, torch.device(device), min(cfg.budgets), self.trainer,
                                        ready.out, Countdown(self.total, self.done_at_start))
        return Opened(ready.handle, evaluate, LoopSettings(total=self.total))


def _data(cfg: CalibrateConfig) -> Dataset:
    return load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed, test_fraction=cfg.test_fraction)


def run_calibration(cfg: CalibrateConfig, out: TextIO | None = None, trainer: Trainer | None = None) -> StudyHandle:
    """Train every calibration job not yet done (resuming; ``cfg.workers`` processes share them)
    with ``trainer`` (default :func:`~nas.train.trainer.train_candidate`); returns the calibration
    study."""
    trainer = trainer or train_candidate
    space, data = load_space(cfg.space), _data(cfg)
    genotypes = genotypes_to_calibrate(space, data, cfg.samples, cfg.flops_max)
    if len(genotypes) < 3:
        raise UserError(f"--flops-max {cfg.flops_max:g} leaves {len(genotypes)} architectures of {space.source} "
                        f"to calibrate on; a ranking needs at least 3")
    url = resolve_storage_url(cfg.storage, cfg.study_name, cfg.workers)  # refuses SQLite for several workers
    largest = max(g.resolution for _, g in genotypes)
    opened: list[StudyHandle] = []  # the calibration study, opened once the workers fit

    def setup(devices: list[str]) -> tuple[CalibrateReady, str]:
        opened.append(handle := open_calibration(url, cfg))
        wanted = jobs(cfg, genotypes)
        job.total, waiting = enqueue_missing(handle, wanted)  # the job crosses to the workers after this
        job.done_at_start = job.total - waiting
        epochs = sum(j.budget_epochs or 0 for j in wanted) / len(genotypes)
        return CalibrateReady(handle, data, out), (
            f"calibrating {len(genotypes)} architectures of {space.source} on {data.describe()}: brief budgets "
            f"{', '.join(f'{b:g}' for b in cfg.budgets)} epochs, target {cfg.target_epochs:g} epochs x {cfg.seeds} "
            f"seeds ({epochs:g} epochs an architecture); {len(wanted) - waiting} of {len(wanted)} runs done or running")

    job = CalibrateJob(cfg, url, 0, trainer)
    drive(job, Workers(cfg.device, cfg.workers, cfg.workers_per_device), setup, study_name=cfg.study_name,
          interrupted=lambda: f"interrupted: finished runs are kept in study {cfg.study_name!r}; rerun the same "
                              f"command to resume", out=out,
          data_bytes=lambda: dataset_bytes(data.at_resolution(largest)))
    handle = opened[0]
    done = evaluated_count(handle.study)
    if done < job.total:
        raise UserError(f"calibration {cfg.study_name!r} holds {done} of {job.total} runs (a worker failed); "
                        f"rerun the same command")
    return handle


def open_calibration(url: str | None, cfg: CalibrateConfig) -> StudyHandle:
    """The calibration study, created with its settings or resumed if they match."""
    storage = open_storage(url, cfg.study_name, cfg.storage_retry)
    study = optuna.create_study(study_name=cfg.study_name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0), load_if_exists=True)
    name_objectives(study, ["val_accuracy"])
    made = {"space": cfg.space, "dataset": cfg.dataset, "flops_max": cfg.flops_max, "seed": cfg.seed,
            "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction, "train": cfg.train.to_dict()}
    stored = study.user_attrs.get("calibration_settings")
    if stored is None:
        study.set_user_attr("calibration_settings", made)
    elif stored != made:
        changed = ", ".join(k for k in made if stored.get(k) != made[k])
        raise UserError(f"calibration study {cfg.study_name!r} was made with other settings ({changed}); "
                        f"use another --study name")
    return StudyHandle(study, storage, url)
