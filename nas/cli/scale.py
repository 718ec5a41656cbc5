"""``scale``: grid-search compound scaling for a chosen architecture and write its family; on
request retrain the family, and compare compound with single-dimension scaling, on the test split."""

from __future__ import annotations

import argparse

from ..errors import UserError
from .aliases import add_renamed
from .storage_retry import add_storage_retry, storage_retry_of
from .workers import add_workers, workers_of
from .limits import add_max_params, max_params


def add_scale(sub: argparse._SubParsersAction) -> None:
    from ..model.latency_settings import RUNTIMES
    from ..scaling.tolerance import DEFAULT_TOLERANCE
    from ..study.budgets import DEFAULT_RETRAIN_EPOCHS, DEFAULT_SEEDS

    p = sub.add_parser("scale", help="grid-search EfficientNet compound scaling for a chosen architecture")
    p.add_argument("--study", required=True, help="the search study (its dataset and training settings are reused)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (sqlite:///F.db, postgresql://...) or journal:FILE.log (default: the journal file results/<study>/journal.log)")
    p.add_argument("--arch", default="knee", metavar="SPEC",
                   help="the architecture to scale: knee, best, a trial number, or a genotype FILE.json (as "
                        "`retrain --arch` and `export --arch`)")
    add_renamed(p, "--base", "--arch")
    p.add_argument("--flops-factor", type=float, default=2.0,
                   help="measured FLOPs ratio per step (alpha*beta^2*gamma^2; default 2, as EfficientNet)")
    p.add_argument("--grid-step", type=float, default=0.05, help="step of the (alpha, beta) grid")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help=f"relative tolerance on the measured FLOPs ratio (default {DEFAULT_TOLERANCE:g}); "
                        "points that cannot land within it are skipped")
    p.add_argument("--phi-max", type=int, default=3, help="the family is built for phi = 1 .. PHI_MAX")
    p.add_argument("--trials", type=int, default=None, help="grid points wanted in the scaling study in all (default: every point; resumes)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto: the first GPU, else the CPU)")
    p.add_argument("--compare-single", action="store_true",
                   help="also scale depth, width and resolution alone to the same measured FLOPs at each "
                        "phi, retrain all and compare them on the test split")
    p.add_argument("--final-epochs", type=float, default=None, metavar="E",
                   help=f"retrain the family phi=0..phi-max for E epochs on train+val and test it (with "
                        f"--compare-single without this flag: {DEFAULT_RETRAIN_EPOCHS:g}, retrain's default)")
    add_renamed(p, "--retrain-epochs", "--final-epochs", type=float)
    p.add_argument("--seeds", type=int, default=None, metavar="K",
                   help=f"seeds per retrained network (default {DEFAULT_SEEDS})")
    add_workers(p, "the grid and the retraining")
    p.add_argument("--latency-on", default=None, choices=RUNTIMES,
                   help="also measure every grid point's and family member's latency here (default: where "
                        "the search measured it, if it did); timed after the grid's training, one at a time")
    add_max_params(p)
    add_storage_retry(p)
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines inside long runs (shown only on a terminal, at most every 5 s)")
    p.set_defaults(handler=_cmd_scale)


def _base_genotype(study, spec: str, limit: float):  # noqa: ANN001, ANN202 - optuna.Study -> (Genotype, label)
    """``--arch``: a genotype file, or a trial of the study (number, best or knee)."""
    from pathlib import Path

    from ..arch.genotype import Genotype
    from ..report.describe import resolve_arch
    from ..report.results import resolve_trial
    from ..study.store.records import TrialRecord

    if spec.endswith(".json") or Path(spec).is_file():
        return resolve_arch(spec, limit), spec
    t = resolve_trial(study, spec, say=print)
    return Genotype.from_json(TrialRecord.from_trial(t).genotype, source=f"trial {t.number}"), f"trial {t.number}"


def _check(args: argparse.Namespace) -> None:
    if args.phi_max < 1:
        raise UserError(f"--phi-max must be >= 1, got {args.phi_max}")
    args.workers = workers_of(args)
    if args.final_epochs is not None and not args.final_epochs > 0:
        raise UserError(f"--final-epochs must be positive, got {args.final_epochs:g}")
    if args.seeds is not None:
        if args.seeds < 1:
            raise UserError(f"--seeds must be >= 1, got {args.seeds}")
        if args.final_epochs is None and not args.compare_single:
            raise UserError("--seeds applies to retraining: give --final-epochs E or --compare-single too")


def _cmd_scale(args: argparse.Namespace) -> int:
    storage_retry = storage_retry_of(args)
    from ..study.run.group_size import parse_group
    from ..study.scale import GridSettings, run_scaling
    from ..study.store.storage import load_handle

    _check(args)
    parse_group(args.group)  # refused before anything is read or written
    grid = GridSettings(args.flops_factor, args.grid_step, args.tolerance)
    grid.check()  # a bad grid is the user's mistake: say so before anything else
    search = load_handle(args.storage, args.study, retry_window=storage_retry)
    base, label = _base_genotype(search.study, args.arch, max_params(args))
    result = run_scaling(search, base, label, grid, phi_max=args.phi_max, trials=args.trials, device=args.device,
                         workers=args.workers, latency_on=args.latency_on,
                         workers_per_device=args.workers_per_device, group=parse_group(args.group))
    if args.compare_single or args.final_epochs is not None:
        _retrain_and_compare(args, search, base, grid, result)
    return 0


def _retrain_and_compare(args: argparse.Namespace, search, base, grid, result) -> None:  # noqa: ANN001 - ScalingResult
    """Retrain the family (--final-epochs) and the comparison (--compare-single) in one
    ``retrain`` run, so that workers share them and a network in both trains once."""
    import pandas as pd

    from ..report.scaling import format_scaled, with_test_accuracy
    from ..study.budgets import DEFAULT_RETRAIN_EPOCHS, DEFAULT_SEEDS
    from ..scaling.family import comparison_variants, variants_frame
    from ..study.retrain import Candidate, run_retrain
    from ..study.scale import scaled_dir
    from ..arch.genotype import Genotype

    epochs = args.final_epochs if args.final_epochs is not None else DEFAULT_RETRAIN_EPOCHS
    seeds = args.seeds if args.seeds is not None else DEFAULT_SEEDS
    tables: dict[str, pd.DataFrame] = {}
    if args.final_epochs is not None:
        tables["family"] = result.family
    if args.compare_single:
        phis = list(range(1, args.phi_max + 1))
        variants = comparison_variants(base, result.alpha, result.beta, grid.flops_factor, phis, grid.tolerance)
        tables["compare_single"] = variants_frame(base, variants, grid.tolerance)
    rows = pd.concat([t[t["within_tolerance"]] for t in tables.values()])
    candidates = [Candidate(str(r["label"]), Genotype.from_json(r["genotype"])) for _, r in rows.iterrows()]
    import sys

    retrain = run_retrain(search, candidates, epochs, seeds, args.workers, args.device,
                          out=sys.stdout if (args.workers or 1) == 1 else None,  # a line per run
                          workers_per_device=args.workers_per_device, group=args.group)
    folder = scaled_dir(search.name)
    titles = {"family": "compound-scaled family", "compare_single": "compound versus single-dimension scaling"}
    for name, table in tables.items():
        scored = with_test_accuracy(table, retrain.study, epochs, seeds)
        print(format_scaled(scored, titles[name], epochs))
        scored.drop(columns=["genotype"]).to_csv(folder / f"{name}_test.csv", index=False)
        print(f"wrote {folder / f'{name}_test.csv'}")
