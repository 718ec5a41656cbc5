"""EfficientNet-style compound scaling, found by grid search on the user's own data.

Depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi, with alpha * beta^2 * gamma^2
close to the FLOPs factor per step (2 in EfficientNet). Every grid point is built with the
builder's rounding rules (channels to multiples of 8, repeats rounded up), so its *measured*
FLOPs ratio to the base is recorded next to the nominal one; both are fvcore's convention.

Grid points are trials of a study ``<search study>-scale`` in the same storage, sampled by
Optuna's GridSampler over one categorical parameter (the point's index): a scaling run resumes
like a search, and several workers can share it.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import optuna
import pandas as pd
from optuna.trial import TrialState

from .cost import FLOPS_CONVENTION, estimate_cost
from .data import load_dataset
from .errors import UserError
from .genotype import Genotype
from .results import resolve_trial
from .scaling import scale_genotype
from .storage import open_storage, study_dir
from .train import TrainConfig, select_device, train_candidate
from .workers import DEFAULT_STALE_AFTER, Heartbeat, assign_devices, fail_stale_trials, run_processes


@dataclass(frozen=True)
class ScalePoint:
    alpha: float  # depth
    beta: float  # width
    gamma: float  # resolution

    @property
    def nominal_factor(self) -> float:
        return self.alpha * self.beta ** 2 * self.gamma ** 2


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


def scaled(base: Genotype, alpha: float, beta: float, gamma: float, phi: float = 1.0) -> Genotype:
    """Base scaled by depth alpha^phi, width beta^phi, resolution gamma^phi (rounded)."""
    resolution = int(round(base.resolution * gamma ** phi))
    return scale_genotype(base, width_mult=beta ** phi, depth_mult=alpha ** phi, resolution=resolution)


def _base_genotype(study: optuna.Study, base: str) -> tuple[Genotype, str]:
    if base.endswith(".json") or Path(base).is_file():
        from .inspect_arch import resolve_arch
        return resolve_arch(base), base
    t = resolve_trial(study, base)
    return Genotype.from_json(t.user_attrs["genotype"], source=f"trial {t.number}"), f"trial {t.number}"


def run_scaling(search_study: optuna.Study, storage_url: str | None, base: str = "knee",
                flops_factor: float = 2.0, step: float = 0.05, tolerance: float = 0.10,
                phi_max: int = 3, trials: int | None = None, device: str = "auto",
                compare_single: bool = False, out: TextIO = sys.stdout,
                write_files: bool = True, workers: int = 1, grid_only: bool = False) -> dict[str, object]:
    """Train the grid (resuming), pick the best point, write the phi = 1..phi_max family.

    ``workers`` > 1 starts that many processes on the grid (the storage must be safe for
    concurrent writers: a journal file or a database server), then picks and writes here.
    ``grid_only``: a worker's part, training grid points and nothing else.
    """
    name = search_study.study_name
    from .storage import resolve_storage_url
    storage_url = resolve_storage_url(storage_url, name, workers)  # the search study's own storage
    if workers > 1:
        _spawn_scale_workers(search_study, storage_url, workers, device, dict(
            base=base, flops_factor=flops_factor, step=step, tolerance=tolerance, trials=trials))
        trials = 0  # the grid is done (or as done as the workers got); pick and write below
    g0, base_label = _base_genotype(search_study, base)
    points = grid_points(flops_factor, step, tolerance)
    attrs = search_study.user_attrs
    dataset = attrs.get("dataset", "mnist5k")
    data = load_dataset(dataset, attrs.get("val_fraction", 0.2), attrs.get("seed", 0))
    cfg = TrainConfig.from_dict(search_study.user_attrs.get("train_config"))
    dev = select_device(device)
    storage = open_storage(storage_url, name)
    scale_name = f"{name}-scale"
    settings = {"base": g0.key(), "flops_factor": flops_factor, "grid_step": step, "tolerance": tolerance}
    sampler = _GridSampler({"point": list(range(len(points)))}, seed=0)
    study = optuna.create_study(study_name=scale_name, storage=storage, direction="maximize",
                                sampler=sampler, load_if_exists=True)
    if study.user_attrs.get("settings") not in (None, settings):
        raise UserError(f"study {scale_name!r} exists with other settings {study.user_attrs['settings']}; "
                        f"delete it or keep the same --base/--flops-factor/--grid-step/--tolerance")
    study.set_user_attr("settings", settings)
    study.set_user_attr("base_genotype", g0.to_json(indent=None))
    base_flops = estimate_cost(g0).flops
    wanted = len(points) if trials is None else min(trials, len(points))
    requeue_interrupted(study)

    def finished() -> int:
        return sum(t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and not _interrupted(t))
                   for t in study.get_trials(deepcopy=False))
    print(f"scaling {base_label} of study {name!r}: {len(points)} grid points with "
          f"alpha*beta^2*gamma^2 = {flops_factor} +/- {tolerance:.0%} (step {step}); "
          f"{finished()} done; training {max(0, wanted - finished())}", file=out)
    trial = None
    try:
        while True:
            snapshot = study.get_trials(deepcopy=False)
            if fail_stale_trials(study, DEFAULT_STALE_AFTER, snapshot):  # a dead worker's point: again
                snapshot = study.get_trials(deepcopy=False)
            running = sum(t.state == TrialState.RUNNING for t in snapshot)
            if finished() + running >= wanted:  # the rest are in other workers' hands
                break
            trial = study.ask()
            index = trial.suggest_categorical("point", list(range(len(points))))
            if any(t.params.get("point") == index and t.number != trial.number and
                   (t.state == TrialState.COMPLETE or t.state == TrialState.RUNNING)
                   for t in study.get_trials(deepcopy=False)):
                trial.set_user_attr("fail_reason", "surplus: another worker took this grid point")
                study.tell(trial, state=TrialState.FAIL)
                trial = None
                continue
            p = points[index]
            g = scaled(g0, p.alpha, p.beta, p.gamma)
            cost = estimate_cost(g)
            for k, v in (("alpha", p.alpha), ("beta", p.beta), ("gamma", p.gamma),
                         ("nominal_factor", p.nominal_factor), ("flops", cost.flops),
                         ("params", cost.params), ("flops_ratio", cost.flops / base_flops),
                         ("resolution", g.resolution), ("genotype", g.to_json(indent=None))):
                trial.set_user_attr(k, v)
            beat = Heartbeat(study, trial._trial_id)
            try:
                result = train_candidate(g, data, cfg, dev)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - one failing point must not stop the grid
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:500])
                study.tell(trial, state=TrialState.FAIL)
                trial = None
                continue
            finally:
                beat.stop()
            trial.set_user_attr("accuracy", result.val_accuracy)
            trial.set_user_attr("train_time", result.train_time)
            study.tell(trial, result.val_accuracy)
            print(f"  point a={p.alpha:.2f} b={p.beta:.2f} g={p.gamma:.2f}: FLOPs x{cost.flops / base_flops:.2f} "
                  f"(nominal x{p.nominal_factor:.2f}), acc {result.val_accuracy:.4f}", file=out, flush=True)
            trial = None
    except KeyboardInterrupt:
        if trial is not None:
            try:
                trial.set_user_attr("fail_reason", "interrupted (Ctrl-C)")
                study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001
                pass
        print("interrupted: finished grid points are kept; rerun to resume", file=out)
        raise
    if grid_only:
        return {}
    grid = grid_frame(study)
    done = grid[grid["state"] == "COMPLETE"]
    if done.empty:
        raise UserError(f"no grid point of {scale_name!r} finished; nothing to pick")
    best = done.sort_values("accuracy", ascending=False).iloc[0]
    a, b, c = float(best["alpha"]), float(best["beta"]), float(best["gamma"])
    family = family_frame(g0, a, b, c, phi_max)
    search_study.set_user_attr("scaling", {"alpha": a, "beta": b, "gamma": c, "base": base_label,
                                           "base_genotype": g0.to_json(indent=None),
                                           "flops_factor": flops_factor})
    print(f"best: alpha={a:.2f} (depth), beta={b:.2f} (width), gamma={c:.2f} (resolution); "
          f"accuracy {best['accuracy']:.4f} at FLOPs x{best['flops_ratio']:.2f}", file=out)
    print(f"family ({FLOPS_CONVENTION}):", file=out)
    print(family.drop(columns=["genotype"]).to_string(index=False), file=out)
    result: dict[str, object] = {"alpha": a, "beta": b, "gamma": c, "grid": grid, "family": family}
    if compare_single:
        result["comparison"] = compare_single_dimension(g0, (a, b, c), flops_factor, data, cfg, dev, out)
    if write_files:
        folder = study_dir(name) / "scaled"
        folder.mkdir(parents=True, exist_ok=True)
        for _, row in family.iterrows():
            (folder / f"phi{int(row['phi'])}.json").write_text(row["genotype"] + "\n")
        family.drop(columns=["genotype"]).to_csv(folder / "family.csv", index=False)
        grid.to_csv(folder / "grid.csv", index=False)
        if compare_single:
            result["comparison"].to_csv(folder / "compare_single.csv", index=False)  # type: ignore[union-attr]
        print(f"wrote {folder}/phi1..{phi_max}.json, family.csv, grid.csv", file=out)
    return result


class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler whose after_trial does not call ``study.stop()`` (that only works inside
    ``study.optimize``; our ask/tell loop stops by itself when the grid is done)."""

    def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001
        return None


def _interrupted(t: optuna.trial.FrozenTrial) -> bool:
    """Failures that say nothing about the grid point: it must be trained again (or was taken)."""
    return str(t.user_attrs.get("fail_reason", "")).startswith(("interrupted", "worker lost", "surplus"))


def _scale_worker(study_name: str, storage_url: str, index: int, device: str, threads: int,
                  kwargs: dict[str, object]) -> None:
    import io

    import torch

    from .storage import load_study
    torch.set_num_threads(threads)
    try:
        run_scaling(load_study(storage_url, study_name), storage_url, device=device, out=io.StringIO(),
                    write_files=False, grid_only=True, **kwargs)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        sys.exit(130)


def _spawn_scale_workers(search_study: optuna.Study, storage_url: str, workers: int,
                         device: str, kwargs: dict[str, object]) -> None:
    name = search_study.study_name
    run_processes(_scale_worker, assign_devices(device, workers),
                  lambda i, d, threads: (name, storage_url, i, d, threads, kwargs))


def requeue_interrupted(study: optuna.Study) -> None:
    """GridSampler treats a failed point as visited; points lost to an interruption are
    enqueued again (once) so that a rerun trains them."""
    trials = study.get_trials(deepcopy=False)
    covered = {t.params.get("point") for t in trials if not _interrupted(t) and "point" in t.params}
    covered |= {t.system_attrs.get("fixed_params", {}).get("point") for t in trials
                if t.state == TrialState.WAITING}
    for t in trials:
        point = t.params.get("point")
        if _interrupted(t) and point is not None and point not in covered:
            study.enqueue_trial({"point": point})
            covered.add(point)


def grid_frame(study: optuna.Study) -> pd.DataFrame:
    rows = [{"number": t.number, "state": t.state.name, **{k: t.user_attrs.get(k) for k in (
        "alpha", "beta", "gamma", "nominal_factor", "flops_ratio", "flops", "params", "resolution",
        "accuracy", "train_time", "fail_reason")}} for t in study.get_trials(deepcopy=False)]
    return pd.DataFrame(rows)


def family_frame(base: Genotype, alpha: float, beta: float, gamma: float, phi_max: int) -> pd.DataFrame:
    base_flops = estimate_cost(base).flops
    rows = []
    for phi in range(0, phi_max + 1):
        g = scaled(base, alpha, beta, gamma, phi).with_updates(name=f"phi{phi}")
        cost = estimate_cost(g)
        rows.append({"phi": phi, "depth_mult": alpha ** phi, "width_mult": beta ** phi,
                     "resolution": g.resolution, "params": cost.params, "flops": cost.flops,
                     "flops_ratio": cost.flops / base_flops,
                     "nominal_ratio": (alpha * beta ** 2 * gamma ** 2) ** phi,
                     "genotype": g.to_json()})
    return pd.DataFrame(rows)


def compare_single_dimension(base: Genotype, best: tuple[float, float, float], flops_factor: float,
                             data, cfg: TrainConfig, device, out: TextIO) -> pd.DataFrame:  # noqa: ANN001
    """Compound scaling versus depth-only, width-only and resolution-only to the same nominal FLOPs."""
    a, b, c = best
    variants = {
        "base": (1.0, 1.0, 1.0),
        "compound": (a, b, c),
        "depth only": (flops_factor, 1.0, 1.0),
        "width only": (1.0, math.sqrt(flops_factor), 1.0),
        "resolution only": (1.0, 1.0, math.sqrt(flops_factor)),
    }
    base_flops = estimate_cost(base).flops
    rows = []
    for name, (da, wb, rg) in variants.items():
        g = scaled(base, da, wb, rg)
        cost = estimate_cost(g)
        r = train_candidate(g, data, cfg, device)
        rows.append({"scaling": name, "alpha": da, "beta": wb, "gamma": rg, "resolution": g.resolution,
                     "params": cost.params, "flops": cost.flops, "flops_ratio": cost.flops / base_flops,
                     "accuracy": r.val_accuracy})
    frame = pd.DataFrame(rows)
    print("compound versus single-dimension scaling (one seed, brief training):", file=out)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=out)
    return frame
