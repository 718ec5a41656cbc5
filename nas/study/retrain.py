"""Final training: chosen architectures trained from scratch on train + validation for a real
budget, with several seeds, and scored on the held-out test split the search never saw.

Each (architecture, seed, epochs) is one *job*, a trial of the study ``<search study>-retrain``
in the search's storage, enqueued with its job in the trial's record and run by the one loop
(:mod:`nas.study.run.loop`). So retraining resumes like a search (finished jobs are kept, a rerun
trains only what is missing), several workers share it, and a job lost with its worker is
retried. Each trained model's weights are kept (``results/<study>/retrain/``) for ``export``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import optuna
import torch
from optuna.trial import TrialState

from ..arch.genotype import Genotype
from ..model.cost import estimate_cost
from ..train.data import Dataset
from ..train.epoch_lines import watching
from ..train.config import Trainer, TrainResult
from ..train.trainer import TrainConfig, train_candidate
from .budgets import DEFAULT_RETRAIN_EPOCHS, DEFAULT_SEEDS
from .store.defaults import DEFAULT_STORAGE_RETRY
from .store.liveness import fail_stale_trials
from .run.driver import drive
from .run.group_size import group_on
from .run.settings import LoopSettings, Workers
from .run.placement import dataset_bytes
from .run.progress import Countdown
from .run.steps import Outcome, TrialContext, slots_taken
from .run.workload import Opened
from .store.records import StudyRecord, TrialRecord
from .opening import study_dataset
from .store.storage import (StudyHandle, load_handle, name_objectives, resolve_storage_url, retrain_study_name,
                            study_dir)

NO_JOB = "surplus: no retrain job was left to take"


@dataclass(frozen=True)
class Candidate:
    """An architecture the user chose to retrain, and where it came from."""

    label: str
    genotype: Genotype
    source_trial: int | None = None


def weights_dir(search_name: str) -> Path:
    return study_dir(search_name) / "retrain"


def jobs_for(candidates: list[Candidate], epochs: float, seeds: int) -> list[TrialRecord]:
    jobs, seen = [], set()
    for c in candidates:
        cost = estimate_cost(c.genotype)
        for seed in range(seeds):
            identity = (c.genotype.key(), seed, float(epochs))
            if identity in seen:
                continue
            seen.add(identity)
            jobs.append(TrialRecord(genotype=c.genotype.to_json(indent=None), arch=c.genotype.arch,
                                    key=c.genotype.key(), params=cost.params, flops=cost.flops,
                                    label=c.label, source_trial=c.source_trial, seed=seed,
                                    budget_epochs=float(epochs)))
    return jobs


def _identity(r: TrialRecord) -> tuple[str | None, int | None, float | None]:
    return r.key, r.seed, r.budget_epochs


def open_retrain(search: StudyHandle) -> StudyHandle:
    study = optuna.create_study(study_name=retrain_study_name(search.name), storage=search.storage,
                                direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
                                load_if_exists=True)
    name_objectives(study, ["test_accuracy"])
    return StudyHandle(study, search.storage, search.url)


def enqueue_missing(handle: StudyHandle, jobs: list[TrialRecord]) -> tuple[int, int]:
    """Enqueue the jobs that are neither done nor waiting nor running. Returns the loop's total
    (evaluated trials the study will hold once every enqueued job has run) and the jobs waiting."""
    fail_stale_trials(handle)  # a dead worker's job goes back to the queue first
    trials = handle.study.get_trials(deepcopy=False)
    taken = {_identity(TrialRecord.from_trial(t)) for t in trials
             if t.state in (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)}
    for job in jobs:
        if _identity(job) not in taken:
            handle.study.enqueue_trial({}, user_attrs=job.to_attrs())
    trials = handle.study.get_trials(deepcopy=False)
    done, running = slots_taken(trials)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    return done + running + waiting, waiting


def take_job(trial: optuna.Trial, what: str) -> tuple[TrialRecord, Genotype] | None:
    """The job an enqueued trial carries (retrain, calibrate) and its genotype; None for a trial
    that carries none (a surplus ask)."""
    job = TrialRecord.from_attrs(trial.user_attrs).job()
    if job.genotype is None or job.budget_epochs is None or job.seed is None:
        return None
    return job, Genotype.from_json(job.genotype, source=f"{what} job {trial.number}")


def trained_fields(result: TrainResult) -> dict[str, object]:
    """What a job's record keeps of its training run, beside the score."""
    return dict(trained=True, train_loss=result.train_loss, train_time=result.train_time,
                total_time=result.total_time, images_per_sec=result.images_per_sec, epochs=result.epochs,
                device=result.device)


class RetrainEvaluator:
    """Trains one job on train + validation and scores it on the test split."""

    def __init__(self, data: Dataset, cfg: TrainConfig, device: torch.device, folder: Path,
                 trainer: Trainer = train_candidate, out: TextIO | None = None,
                 countdown: Countdown | None = None) -> None:
        self.data, self.cfg, self.device, self.folder = data, cfg, device, folder
        self.trainer, self.out, self.countdown = trainer, out, countdown

    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome:
        taken = take_job(trial, "retrain")
        if taken is None:
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=NO_JOB))
        job, g = taken
        cfg = replace(self.cfg, epochs=job.budget_epochs, time_budget=None, seed=job.seed)
        with watching(f"{job.label} seed {job.seed}", self.out):
            result = self.trainer(g, self.data, cfg, self.device, keep_model=True)
        record = replace(job, test_accuracy=result.val_accuracy, **trained_fields(result))
        if result.model is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{job.key}-e{job.budget_epochs:g}-s{job.seed}.pt"
            model = result.model.to("cpu", memory_format=torch.contiguous_format).float()
            torch.save(model.state_dict(), path)
            record.weights = str(path)
        if self.out is not None:
            left = f" {self.countdown.tick(result.total_time)}" if self.countdown is not None else ""
            print(f"  {job.label} seed {job.seed}: test accuracy {result.val_accuracy:.4f} after "
                  f"{job.budget_epochs:g} epochs ({result.total_time:.1f}s){left}", file=self.out, flush=True)
        return Outcome(TrialState.COMPLETE, [result.val_accuracy], record)


def final_data(search: StudyHandle) -> tuple[Dataset, TrainConfig]:
    record = StudyRecord.from_study(search.study)
    return study_dataset(record, with_test=True).for_final_training(), record.train_config


@dataclass
class RetrainReady:
    """What ``run_retrain`` has loaded in the command's own process (nas.study.run.driver)."""

    handle: StudyHandle
    data: Dataset
    cfg: TrainConfig
    out: TextIO | None


@dataclass
class RetrainJob:
    """A retrain's part of the work (nas.study.run.workload.Workload; picklable)."""

    search_study: str
    storage_url: str | None
    total: int
    trainer: Trainer = train_candidate
    storage_retry: float = DEFAULT_STORAGE_RETRY
    done_at_start: int = 0  # runs finished or running elsewhere when this command began (its countdown)
    group: int = 1  # runs in training at once in each worker (nas.study.run.grouped)

    def open(self, index: int, device: str, ready: RetrainReady | None = None) -> Opened:
        if ready is None:  # a worker process
            search = load_handle(self.storage_url, self.search_study, retry_window=self.storage_retry)
            handle = load_handle(self.storage_url, retrain_study_name(self.search_study), retry_window=self.storage_retry)
            ready = RetrainReady(handle, *final_data(search), out=None)
        evaluate = RetrainEvaluator(ready.data, ready.cfg, torch.device(device), weights_dir(self.search_study),
                                    self.trainer, ready.out, Countdown(self.total, self.done_at_start))
        return Opened(ready.handle, evaluate, LoopSettings(total=self.total, group=self.group, device=device))


def run_retrain(search: StudyHandle, candidates: list[Candidate], epochs: float = DEFAULT_RETRAIN_EPOCHS,
                seeds: int = DEFAULT_SEEDS, workers: int = 1, device: str = "auto",
                out: TextIO | None = None, trainer: Trainer = train_candidate,
                workers_per_device: int | None = None, group: int | str = 1) -> StudyHandle:
    """Train every candidate with ``seeds`` seeds for ``epochs`` epochs (resuming); returns the
    retrain study. Several workers need a storage safe for concurrent writers; up to
    ``workers_per_device`` of them share a GPU (:mod:`nas.study.run.placement`); each trains
    ``group`` runs at once (``--group``, checked against the GPU before anything is written)."""
    url = resolve_storage_url(search.url, search.name, workers)  # refuses SQLite for several workers
    data, cfg = final_data(search)  # checks the test split is the one the study recorded
    largest = max((c.genotype.resolution for c in candidates), default=data.resolution)
    opened: list[StudyHandle] = []  # the retrain study, opened once the workers fit

    def setup(devices: list[str]) -> tuple[RetrainReady, str]:
        job.group = group_on(group, devices, lambda: [c.genotype for c in candidates], cfg.batch_size,
                             lambda: dataset_bytes(data.at_resolution(largest)))
        opened.append(handle := open_retrain(search))
        jobs = jobs_for(candidates, epochs, seeds)
        job.total, waiting = enqueue_missing(handle, jobs)  # the job crosses to the workers after this
        job.done_at_start = job.total - waiting
        return RetrainReady(handle, data, cfg, out), (
            f"retraining {len(candidates)} architecture(s) x {seeds} seed(s) for {epochs:g} epochs on "
            f"{data.describe()}; {len(jobs) - waiting} of {len(jobs)} runs already done or running")

    job = RetrainJob(search.name, url, 0, trainer, search.retry_window)
    drive(job, Workers(device, workers, workers_per_device), setup, study_name=retrain_study_name(search.name),
          interrupted=lambda: "interrupted: finished runs are kept; rerun the same command to resume", out=out,
          data_bytes=lambda: dataset_bytes(data.at_resolution(largest)))
    return opened[0]
