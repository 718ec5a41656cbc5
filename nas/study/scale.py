"""EfficientNet-style compound scaling, found by grid search on the user's own data.

Depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi, with alpha * beta^2 * gamma^2
equal to the FLOPs factor per step (2 in EfficientNet). Every grid point and family member is
*landed* on that factor in measured FLOPs (fvcore's convention, after the builder's rounding;
:mod:`nas.scaling.grid`, :mod:`nas.scaling.landing`), and records nominal and measured side by
side.

Grid points are trials of a study ``<search study>-scale`` in the same storage, sampled by
Optuna's GridSampler over one categorical parameter (the point's index) and trained in the one
loop (:mod:`nas.study.run.loop`): a scaling run resumes like a search, and several workers share it.
"""

from __future__ import annotations

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
from ..train.epoch_lines import watching
from ..train.config import Trainer
from ..train.trainer import TrainConfig, train_candidate
from .store.defaults import DEFAULT_STORAGE_RETRY
from ..scaling.family import family_frame, scaled  # noqa: F401 - public here too
from ..model.latency_settings import LatencySettings
from .latency_book import LatencyBook, keep_table, recorded, settings_for, table_of
from .run.driver import drive
from .run.group_size import group_on
from .run.settings import LoopSettings, Workers
from .run.steps import Outcome, TrialContext, evaluated_count
from .run.workload import Opened
from .run.placement import dataset_bytes
from .store.records import GridStudyRecord, ScalingRecord, StudyRecord, TrialRecord, record_scaling, records_frame
from .opening import study_dataset
from ..scaling.grid import GRID_VERSION, GridPoint, GridSettings, ScalePoint  # noqa: F401 - public here too
from .store.storage import StudyHandle, load_handle, name_objectives, resolve_storage_url, study_dir

TAKEN = "surplus: another worker took this grid point"


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
    settings = grid.as_settings(base)
    study = optuna.create_study(study_name=name, storage=search.storage, direction="maximize",
                                sampler=_grid_sampler(len(grid.plan(base).points)), load_if_exists=True)
    existing = GridStudyRecord.from_study(study)
    if existing.settings not in (None, settings):
        raise UserError(f"study {name!r} exists with other settings {existing.settings}; "
                        f"delete it (or use another --study) or keep the same --arch/--flops-factor/--grid-step/"
                        f"--tolerance")
    GridStudyRecord(settings=settings, base_genotype=base.to_json(indent=None)).write(study)
    name_objectives(study, ["val_accuracy"])
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
    """Trains one grid point (the :class:`nas.study.run.loop.Evaluate` of scaling)."""

    def __init__(self, base: Genotype, points: list[GridPoint], data: Dataset, cfg: TrainConfig,
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
        p, landing = self.points[index].point, self.points[index].landing
        g = landing.genotype
        cost = estimate_cost(g)
        record = TrialRecord(alpha=p.alpha, beta=p.beta, gamma=p.gamma, nominal_factor=p.nominal_factor,
                             flops=cost.flops, params=cost.params, flops_ratio=cost.flops / self.base_flops,
                             resolution=g.resolution, depth_mult=landing.depth_mult, width_mult=landing.width_mult,
                             genotype=g.to_json(indent=None), key=g.key(), arch=g.arch)
        context.save(record)
        with watching(f"point a={p.alpha:.2f} b={p.beta:.2f} g={p.gamma:.2f}", self.out):
            result = self.trainer(g, self.data, self.cfg, self.device)
        record.trained, record.accuracy, record.train_time = True, result.val_accuracy, result.train_time
        if self.out is not None:
            print(f"  point a={p.alpha:.2f} b={p.beta:.2f} g={p.gamma:.2f} (nominal x{p.nominal_factor:.2f}): "
                  f"built depth x{landing.depth_mult:.2f}, width x{landing.width_mult:.2f}, {g.resolution} px, "
                  f"FLOPs x{record.flops_ratio:.3f} measured; acc {result.val_accuracy:.4f}", file=self.out, flush=True)
        return Outcome(TrialState.COMPLETE, [result.val_accuracy], record)


def _grid_total(grid: GridSettings, base: Genotype, trials: int | None) -> int:
    n = len(grid.plan(base).points)
    return n if trials is None else min(trials, n)


@dataclass
class ScalingResult:
    """What ``scale`` found: the best grid point's nominal multipliers, the grid's trials and the
    family landed on the FLOPs factor (each a frame, as written to grid.csv and family.csv)."""

    alpha: float
    beta: float
    gamma: float
    grid: pd.DataFrame
    family: pd.DataFrame


@dataclass
class ScaleReady:
    """What ``run_scaling`` has loaded in the command's own process (nas.study.run.driver)."""

    handle: StudyHandle
    data: Dataset
    cfg: TrainConfig
    out: TextIO | None


@dataclass
class ScaleJob:
    """Scaling's part of the work (nas.study.run.workload.Workload; picklable)."""

    search_study: str
    storage_url: str | None
    base_json: str
    grid: GridSettings
    trials: int | None
    trainer: Trainer = train_candidate
    storage_retry: float = DEFAULT_STORAGE_RETRY
    group: int = 1  # grid points in training at once in each worker (nas.study.run.grouped)

    def open(self, index: int, device: str, ready: ScaleReady | None = None) -> Opened:
        base = Genotype.from_json(self.base_json)
        points = self.grid.plan(base).points
        if ready is None:  # a worker process
            search = load_handle(self.storage_url, self.search_study, retry_window=self.storage_retry)
            handle = load_handle(self.storage_url, f"{self.search_study}-scale", _grid_sampler(len(points)),
                                 retry_window=self.storage_retry)
            record = StudyRecord.from_study(search.study)
            ready = ScaleReady(handle, study_dataset(record), record.train_config, out=None)
        evaluate = GridPointEvaluator(base, points, ready.data, ready.cfg, torch.device(device), self.trainer, ready.out)
        return Opened(ready.handle, evaluate, LoopSettings(total=_grid_total(self.grid, base, self.trials),
                                                          group=self.group, device=device))


def run_scaling(search: StudyHandle, base: Genotype, base_label: str, grid: GridSettings = GridSettings(),
                phi_max: int = 3, trials: int | None = None, device: str = "auto",
                out: TextIO | None = None, write_files: bool = True,
                workers: int = 1, trainer: Trainer = train_candidate,
                latency_on: str | None = None, workers_per_device: int | None = None,
                group: int | str = 1) -> ScalingResult:
    """Train the grid (resuming; ``workers`` processes share it), pick the best point, write the
    phi = 1..phi_max family, each member landed on factor^phi measured FLOPs. Several workers
    need a storage safe for concurrent writers (a journal file or a database server).

    Where the search measured latency (or ``latency_on`` names a runtime), every grid point and
    family member is timed too, in this process after the grid's training has ended (no worker
    trains on the cores being timed), each genotype once (:mod:`nas.study.latency_book`)."""
    plan = grid.plan(base)
    url = resolve_storage_url(search.url, search.name, workers)  # refuses SQLite for several workers
    record = StudyRecord.from_study(search.study)
    latency = settings_for(record, latency_on)  # a missing runtime is refused before any training
    largest = max(p.landing.genotype.resolution for p in plan.points)
    data = study_dataset(record)
    opened: list[StudyHandle] = []  # the grid study, opened once the workers fit

    def setup(devices: list[str]) -> tuple[ScaleReady, str]:
        job.group = group_on(group, devices, lambda: [p.landing.genotype for p in plan.points],  # before any writing
                             record.train_config.batch_size, lambda: dataset_bytes(data.at_resolution(largest)))
        opened.append(handle := open_grid(search, base, grid))
        wanted, done = _grid_total(grid, base, trials), evaluated_count(handle.study)
        return ScaleReady(handle, data, record.train_config, out), (
            f"scaling {base_label} of study {search.name!r}: alpha*beta^2*gamma^2 = {grid.flops_factor:g} on a "
            f"{grid.step:g} grid of (alpha, beta), gamma from the constraint; "
            f"{plan.describe(grid.tolerance, grid.flops_factor)} ({FLOPS_CONVENTION}); "
            f"{done} done; training {max(0, wanted - done)}")

    job = ScaleJob(search.name, url, base.to_json(indent=None), grid, trials, trainer, search.retry_window)
    drive(job, Workers(device, workers, workers_per_device), setup, study_name=f"{search.name}-scale",
          interrupted=lambda: "interrupted: finished grid points are kept; rerun to resume", out=out,
          data_bytes=lambda: dataset_bytes(data.at_resolution(largest)))
    study = opened[0].study
    frame = grid_frame(study)
    done = frame[frame["state"] == "COMPLETE"]
    if done.empty:
        raise UserError(f"no grid point of {study.study_name!r} finished; nothing to pick")
    best = done.sort_values("accuracy", ascending=False).iloc[0]
    a, b, c = float(best["alpha"]), float(best["beta"]), float(best["gamma"])
    family = family_frame(base, a, b, c, grid.flops_factor, phi_max, grid.tolerance)
    if latency is not None:
        _time_grid_and_family(search.study, study, latency, plan.points, frame, family)
    record_scaling(search.study, ScalingRecord(a, b, c, base_label, base.to_json(indent=None), grid.flops_factor,
                                               grid.tolerance, GRID_VERSION))
    print(f"best: alpha={a:.2f} (depth), beta={b:.2f} (width), gamma={c:.2f} (resolution, nominal); "
          f"accuracy {best['accuracy']:.4f} (validation, brief) at FLOPs x{best['flops_ratio']:.3f} measured", file=out)
    print(format_family(family, grid.flops_factor, grid.tolerance, latency.describe() if latency else None),
          file=out)
    result = ScalingResult(a, b, c, frame, family)
    if write_files:
        folder = scaled_dir(search.name)
        folder.mkdir(parents=True, exist_ok=True)
        landed = family[family["within_tolerance"]]
        for _, row in landed.iterrows():
            (folder / f"phi{int(row['phi'])}.json").write_text(row["genotype"] + "\n")
        family.drop(columns=["genotype"]).to_csv(folder / "family.csv", index=False)
        frame.to_csv(folder / "grid.csv", index=False)
        names = ", ".join(f"phi{int(p)}.json" for p in landed["phi"] if p > 0)
        print(f"wrote {folder}/: {names}, family.csv, grid.csv", file=out)
    return result


def _time_grid_and_family(search_study: optuna.Study, grid_study: optuna.Study, settings: LatencySettings,
                          points: list[GridPoint], frame: pd.DataFrame, family: pd.DataFrame) -> None:
    """Add ``latency_ms`` to the grid's and the family's frames, reusing what the search study and
    earlier runs of this scaling measured in the same convention, and keep the table."""
    convention = settings.describe()
    book = LatencyBook(settings, {**recorded(search_study, convention), **table_of(grid_study, convention)})
    genotypes = {p.landing.genotype.key(): p.landing.genotype for p in points}
    frame["latency_ms"] = [book.of(genotypes[k]) if state == "COMPLETE" and k in genotypes else None
                           for k, state in zip(frame["key"], frame["state"])]
    family["latency_ms"] = [book.of(Genotype.from_json(g)) for g in family["genotype"]]
    keep_table(grid_study, book, set(frame["key"].dropna()) | set(family["key"]))


def scaled_dir(search_name: str):  # noqa: ANN201 - Path
    return study_dir(search_name) / "scaled"


def format_family(family: pd.DataFrame, flops_factor: float, tolerance: float,
                  latency_convention: str | None = None) -> str:
    """The family table: target and measured FLOPs ratio per member, multipliers as built, and
    the measured latency where it was measured."""
    timed = latency_convention is not None and "latency_ms" in family
    lines = [f"family: member phi landed on x{flops_factor:g}^phi measured FLOPs within +/-{tolerance:.0%} "
             f"({FLOPS_CONVENTION}); nominal = alpha^phi, beta^phi, gamma^phi before rounding"
             + (f"; latency = {latency_convention}" if timed else ""),
             f"{'phi':>3}  {'target':>7}  {'measured':>8}  {'error':>6}  {'depth (nominal)':>15}  "
             f"{'width (nominal)':>15}  {'px (nominal)':>12}  {'FLOPs':>8}  {'params':>8}" + ("   latency" if timed else "")]
    for _, r in family.iterrows():
        flag = "" if r["within_tolerance"] else "  OUT OF TOLERANCE: not written"
        ms = f"  {r['latency_ms']:>6.3f}ms" if timed else ""
        lines.append(f"{int(r['phi']):>3}  x{r['target_ratio']:<6.3g}  x{r['flops_ratio']:<7.3f}  {r['error']:>+6.1%}  "
                     f"{r['depth_mult']:>6.2f} ({r['nominal_depth']:.2f})  {r['width_mult']:>6.2f} ({r['nominal_width']:.2f})  "
                     f"{int(r['resolution']):>4} ({r['nominal_resolution']:>5.1f})  {r['flops'] / 1e6:>7.2f}M  "
                     f"{r['params'] / 1e3:>7.1f}k{ms}{flag}")
    return "\n".join(lines)


GRID_COLUMNS = ("alpha", "beta", "gamma", "nominal_factor", "flops_ratio", "depth_mult", "width_mult",
                "resolution", "flops", "params", "accuracy", "train_time", "key", "fail_reason")


def grid_frame(study: optuna.Study) -> pd.DataFrame:
    return records_frame(study, GRID_COLUMNS)
