"""EfficientNet-style compound scaling, found by grid search on the user's own data.

Depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi, with alpha * beta^2 * gamma^2
close to the FLOPs factor per step (2 in EfficientNet). Every grid point is built with the
builder's rounding rules (channels to multiples of 8, repeats rounded up), so its *measured*
FLOPs ratio to the base is recorded next to the nominal one; both are fvcore's convention.

Grid points are trials of a study ``<search study>-scale`` in the same storage, sampled by
Optuna's GridSampler over one categorical parameter (the point's index) and trained in the one
loop (:mod:`nas.study.loop`): a scaling run resumes like a search, and several workers share it.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass
from typing import TextIO

import optuna
import pandas as pd
import torch
from optuna.trial import TrialState

from ..arch.genotype import Genotype
from ..errors import UserError
from ..model.cost import FLOPS_CONVENTION, estimate_cost
from ..train.data import Dataset
from ..train.trainer import TrainConfig, select_device, train_candidate
from .family import compare_single_dimension, family_frame, scaled  # noqa: F401 - public here too
from .loop import LoopSettings, Outcome, TrialContext, evaluated_count, run_loop
from .processes import assign_devices, run_workers
from .records import GridStudyRecord, StudyRecord, TrialRecord, record_scaling, records_frame
from .opening import study_dataset
from .search import Trainer
from .storage import StudyHandle, load_handle, resolve_storage_url, study_dir

TAKEN = "surplus: another worker took this grid point"


@dataclass(frozen=True)
class ScalePoint:
    alpha: float  # depth
    beta: float  # width
    gamma: float  # resolution

    @property
    def nominal_factor(self) -> float:
        return self.alpha * self.beta ** 2 * self.gamma ** 2


@dataclass(frozen=True)
class GridSettings:
    flops_factor: float = 2.0
    step: float = 0.05
    tolerance: float = 0.10

    def points(self) -> list[ScalePoint]:
        return grid_points(self.flops_factor, self.step, self.tolerance)


def grid_points(flops_factor: float = 2.0, step: float = 0.05, tolerance: float = 0.10) -> list[ScalePoint]:
    """All (alpha, beta, gamma) >= 1 on a ``step`` grid with alpha*beta^2*gamma^2 within
    ``tolerance`` (relative) of ``flops_factor``."""
    if step <= 0 or tolerance < 0 or flops_factor <= 1:
        raise UserError("--grid-step must be > 0, --tolerance >= 0 and --flops-factor > 1")
    hi = flops_factor * (1 + tolerance)

    def axis(limit: float) -> list[float]:
        n = int(math.floor((limit - 1) / step + 1e-9))
        return [round(1 + i * step, 10) for i in range(n + 1)]
    points = [ScalePoint(a, b, g) for a, b, g in itertools.product(axis(hi), axis(math.sqrt(hi)), axis(math.sqrt(hi)))
              if abs(a * b * b * g * g - flops_factor) <= tolerance * flops_factor + 1e-12]
    if not points:
        raise UserError(f"no grid point satisfies alpha*beta^2*gamma^2 = {flops_factor} within "
                        f"{tolerance:.0%} at step {step}; use a smaller --grid-step or larger --tolerance")
    return points


# ----- the grid study -----------------------------------------------------------------------------

class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler whose after_trial does not call ``study.stop()`` (that only works inside
    ``study.optimize``; our ask/tell loop stops by itself when the grid is done)."""

    def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001
        return None


def _grid_sampler(n_points: int) -> _GridSampler:
    return _GridSampler({"point": list(range(n_points))}, seed=0)


def open_grid(search: StudyHandle, base: Genotype, grid: GridSettings) -> StudyHandle:
    """Create (or load and check) the grid study beside the search study, in its storage."""
    name = f"{search.name}-scale"
    settings = {"base": base.key(), "flops_factor": grid.flops_factor, "grid_step": grid.step,
                "tolerance": grid.tolerance}
    study = optuna.create_study(study_name=name, storage=search.storage, direction="maximize",
                                sampler=_grid_sampler(len(grid.points())), load_if_exists=True)
    existing = GridStudyRecord.from_study(study)
    if existing.settings not in (None, settings):
        raise UserError(f"study {name!r} exists with other settings {existing.settings}; "
                        f"delete it or keep the same --base/--flops-factor/--grid-step/--tolerance")
    GridStudyRecord(settings=settings, base_genotype=base.to_json(indent=None)).write(study)
    handle = StudyHandle(study, search.storage, search.url)
    requeue_interrupted(study)
    return handle


def requeue_interrupted(study: optuna.Study) -> None:
    """GridSampler treats a failed point as visited; points lost to an interruption are
    enqueued again (once) so that a rerun trains them."""
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    records = {t.number: TrialRecord.from_trial(t) for t in trials}
    covered = {t.params.get("point") for t in trials if not records[t.number].uncounted_failure and "point" in t.params}
    for t in trials:  # waiting retries (enqueued here or by liveness) cover their original's point
        retry_of = records[t.number].retry_of
        if t.state == TrialState.WAITING and retry_of in by_number:
            covered.add(by_number[retry_of].params.get("point"))
    for t in trials:
        point = t.params.get("point")
        if records[t.number].uncounted_failure and point is not None and point not in covered:
            study.enqueue_trial({"point": point}, user_attrs=TrialRecord(retry_of=t.number).to_attrs())
            covered.add(point)


class GridPointEvaluator:
    """Trains one grid point (the :class:`nas.study.loop.Evaluate` of scaling)."""

    def __init__(self, base: Genotype, points: list[ScalePoint], data: Dataset, cfg: TrainConfig,
                 device: torch.device, trainer: Trainer = train_candidate, out: TextIO | None = None) -> None:
        self.base, self.points, self.data, self.cfg, self.device = base, points, data, cfg, device
        self.trainer, self.out = trainer, out
        self.base_flops = estimate_cost(base).flops

    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome:
        index = trial.suggest_categorical("point", list(range(len(self.points))))
        if any(t.params.get("point") == index and t.number != trial.number
               and t.state in (TrialState.COMPLETE, TrialState.RUNNING)
               for t in trial.study.get_trials(deepcopy=False)):
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=TAKEN))
        p = self.points[index]
        g = scaled(self.base, p.alpha, p.beta, p.gamma)
        cost = estimate_cost(g)
        record = TrialRecord(alpha=p.alpha, beta=p.beta, gamma=p.gamma, nominal_factor=p.nominal_factor,
                             flops=cost.flops, params=cost.params, flops_ratio=cost.flops / self.base_flops,
                             resolution=g.resolution, genotype=g.to_json(indent=None))
        context.save(record)
        result = self.trainer(g, self.data, self.cfg, self.device)
        record.trained, record.accuracy, record.train_time = True, result.val_accuracy, result.train_time
        if self.out is not None:
            print(f"  point a={p.alpha:.2f} b={p.beta:.2f} g={p.gamma:.2f}: FLOPs x{record.flops_ratio:.2f} "
                  f"(nominal x{p.nominal_factor:.2f}), acc {result.val_accuracy:.4f}", file=self.out, flush=True)
        return Outcome(TrialState.COMPLETE, [result.val_accuracy], record)


def _grid_total(grid: GridSettings, trials: int | None) -> int:
    n = len(grid.points())
    return n if trials is None else min(trials, n)


@dataclass
class ScaleJob:
    """A scaling worker's part (picklable: it crosses into spawned worker processes)."""

    search_study: str
    storage_url: str
    base_json: str
    grid: GridSettings
    trials: int | None
    trainer: Trainer = train_candidate

    def open(self, index: int, device: str):  # noqa: ANN201 - see nas.study.processes.WorkerJob
        search = load_handle(self.storage_url, self.search_study)
        points = self.grid.points()
        handle = load_handle(self.storage_url, f"{self.search_study}-scale", _grid_sampler(len(points)))
        record = StudyRecord.from_study(search.study)
        evaluate = GridPointEvaluator(Genotype.from_json(self.base_json), points, study_dataset(record),
                                      TrainConfig.from_dict(record.train_config), torch.device(device), self.trainer)
        return handle, evaluate, LoopSettings(total=_grid_total(self.grid, self.trials)), None


def run_scaling(search: StudyHandle, base: Genotype, base_label: str, grid: GridSettings = GridSettings(),
                phi_max: int = 3, trials: int | None = None, device: str = "auto",
                compare_single: bool = False, out: TextIO = sys.stdout, write_files: bool = True,
                workers: int = 1, trainer: Trainer = train_candidate) -> dict[str, object]:
    """Train the grid (resuming; ``workers`` processes share it), pick the best point, write the
    phi = 1..phi_max family. Several workers need a storage safe for concurrent writers (a
    journal file or a database server)."""
    points = grid.points()
    url = resolve_storage_url(search.url, search.name, workers)  # refuses SQLite for several workers
    record = StudyRecord.from_study(search.study)
    data = study_dataset(record)
    cfg = TrainConfig.from_dict(record.train_config)
    handle = open_grid(search, base, grid)
    study = handle.study
    wanted = _grid_total(grid, trials)
    done = evaluated_count(study)
    print(f"scaling {base_label} of study {search.name!r}: {len(points)} grid points with "
          f"alpha*beta^2*gamma^2 = {grid.flops_factor} +/- {grid.tolerance:.0%} (step {grid.step}); "
          f"{done} done; training {max(0, wanted - done)}", file=out)
    try:
        if workers > 1:
            run_workers(ScaleJob(search.name, url, base.to_json(indent=None), grid, trials, trainer),
                        assign_devices(device, workers))
        else:
            evaluate = GridPointEvaluator(base, points, data, cfg, select_device(device), trainer, out)
            run_loop(handle, evaluate, LoopSettings(total=wanted))
    except KeyboardInterrupt:
        print("interrupted: finished grid points are kept; rerun to resume", file=out)
        raise
    frame = grid_frame(study)
    done = frame[frame["state"] == "COMPLETE"]
    if done.empty:
        raise UserError(f"no grid point of {study.study_name!r} finished; nothing to pick")
    best = done.sort_values("accuracy", ascending=False).iloc[0]
    a, b, c = float(best["alpha"]), float(best["beta"]), float(best["gamma"])
    family = family_frame(base, a, b, c, phi_max)
    record_scaling(search.study, {"alpha": a, "beta": b, "gamma": c, "base": base_label,
                                  "base_genotype": base.to_json(indent=None), "flops_factor": grid.flops_factor})
    print(f"best: alpha={a:.2f} (depth), beta={b:.2f} (width), gamma={c:.2f} (resolution); "
          f"accuracy {best['accuracy']:.4f} at FLOPs x{best['flops_ratio']:.2f}", file=out)
    print(f"family ({FLOPS_CONVENTION}):", file=out)
    print(family.drop(columns=["genotype"]).to_string(index=False), file=out)
    result: dict[str, object] = {"alpha": a, "beta": b, "gamma": c, "grid": frame, "family": family}
    if compare_single:
        result["comparison"] = compare_single_dimension(base, (a, b, c), grid.flops_factor, data, cfg,
                                                        select_device(device), out, trainer)
    if write_files:
        folder = study_dir(search.name) / "scaled"
        folder.mkdir(parents=True, exist_ok=True)
        for _, row in family.iterrows():
            (folder / f"phi{int(row['phi'])}.json").write_text(row["genotype"] + "\n")
        family.drop(columns=["genotype"]).to_csv(folder / "family.csv", index=False)
        frame.to_csv(folder / "grid.csv", index=False)
        if compare_single:
            result["comparison"].to_csv(folder / "compare_single.csv", index=False)  # type: ignore[union-attr]
        print(f"wrote {folder}/phi1..{phi_max}.json, family.csv, grid.csv", file=out)
    return result


GRID_COLUMNS = ("alpha", "beta", "gamma", "nominal_factor", "flops_ratio", "flops", "params",
                "resolution", "accuracy", "train_time", "fail_reason")


def grid_frame(study: optuna.Study) -> pd.DataFrame:
    return records_frame(study, GRID_COLUMNS)
