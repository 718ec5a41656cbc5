"""``scale``: grid-search compound scaling for a chosen architecture and write its family."""

from __future__ import annotations

import argparse

from ..errors import UserError

def add_scale(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale", help="grid-search EfficientNet compound scaling for a chosen architecture")
    p.add_argument("--study", required=True, help="the search study (its dataset and training settings are reused)")
    p.add_argument("--storage", default=None)
    p.add_argument("--base", default="knee", help="TRIAL number, best, knee, or a genotype FILE.json")
    p.add_argument("--flops-factor", type=float, default=2.0, help="alpha*beta^2*gamma^2 target per step")
    p.add_argument("--grid-step", type=float, default=0.05)
    p.add_argument("--tolerance", type=float, default=0.10, help="relative tolerance on the FLOPs factor")
    p.add_argument("--phi-max", type=int, default=3)
    p.add_argument("--trials", type=int, default=None, help="grid points wanted in the scaling study in all (default: every point; resumes)")
    p.add_argument("--device", default="auto")
    p.add_argument("--compare-single", action="store_true",
                   help="also scale depth, width and resolution alone to the same FLOPs and compare")
    p.add_argument("--workers", type=int, default=1, help="worker processes sharing the grid")
    p.set_defaults(handler=_cmd_scale)


def _base_genotype(study, spec: str):  # noqa: ANN001, ANN202 - optuna.Study -> (Genotype, label)
    """``--base``: a genotype file, or a trial of the study (number, best or knee)."""
    from pathlib import Path

    from ..arch.genotype import Genotype
    from ..report.describe import resolve_arch
    from ..report.results import resolve_trial
    from ..study.records import TrialRecord

    if spec.endswith(".json") or Path(spec).is_file():
        return resolve_arch(spec), spec
    t = resolve_trial(study, spec, say=print)
    return Genotype.from_json(TrialRecord.from_trial(t).genotype, source=f"trial {t.number}"), f"trial {t.number}"


def _cmd_scale(args: argparse.Namespace) -> int:
    from ..study.scale import GridSettings, run_scaling
    from ..study.storage import load_handle

    if args.phi_max < 1:
        raise UserError("--phi-max must be >= 1")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    grid = GridSettings(args.flops_factor, args.grid_step, args.tolerance)
    grid.points()  # a grid with no point is the user's mistake: say so before anything else
    search = load_handle(args.storage, args.study)
    base, label = _base_genotype(search.study, args.base)
    run_scaling(search, base, label, grid, phi_max=args.phi_max, trials=args.trials, device=args.device,
                compare_single=args.compare_single, workers=args.workers)
    return 0
