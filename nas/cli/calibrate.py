"""``calibrate``: which brief signal ranks architectures as long training does on this data, and
what a search should optimise (nas.study.calibrate, nas.report.calibration)."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from ..train.dataset_names import DATASET_HELP
from .storage_retry import add_storage_retry, storage_retry_of
from .workers import add_workers, workers_of


def add_calibrate(sub: argparse._SubParsersAction) -> None:
    from ..study.calibrate_config import CalibrateConfig

    d = CalibrateConfig()
    p = sub.add_parser("calibrate", help="measure how well each cheap signal ranks architectures against long "
                                         "training on your data, and record the one a search should use")
    p.add_argument("--space", default=d.space, help="search-space YAML file or shipped name")
    p.add_argument("--dataset", default=d.dataset, help=DATASET_HELP)
    p.add_argument("--study", default=None, help="calibration study name (default calibrate-<space>-<dataset>)")
    p.add_argument("--samples", type=int, default=d.samples, help="random architectures (besides the references)")
    p.add_argument("--budgets", default=",".join(f"{b:g}" for b in d.budgets), help="brief budgets in epochs")
    p.add_argument("--target-epochs", type=float, default=d.target_epochs, help="the long training ranked against")
    p.add_argument("--seeds", type=int, default=d.seeds, help="seeds of the long training (their agreement is the ceiling)")
    p.add_argument("--flops-max", default=None, help="calibrate on architectures within this FLOPs budget, "
                                                     "as the search will see them (e.g. 20M)")
    p.add_argument("--margin", type=float, default=d.margin,
                   help="recommend the cheapest signal whose tau is within this of the best")
    p.add_argument("--seed", type=int, default=d.seed, help="data split seed (as search's --seed)")
    p.add_argument("--storage", default=None, help="Optuna storage URL or journal:FILE.log")
    p.add_argument("--device", default=d.device, help="auto | cpu | cuda | cuda:N")
    add_workers(p, "the runs")
    add_storage_retry(p)
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines inside long runs (shown only on a terminal, at most every 5 s)")
    p.set_defaults(handler=_cmd_calibrate)


def _budgets(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--budgets {text!r}: expected epochs separated by commas, e.g. 1,2,4") from None


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ..report.calibration import format_table, plot_taus, recommend, runs_frame, signal_table
    from ..study.calibrate import CalibrateConfig, run_calibration
    from ..study.store.storage import study_dir
    from ..units import parse_quantity

    cfg = CalibrateConfig(space=args.space, dataset=args.dataset, study=args.study, samples=args.samples,
                          budgets=_budgets(args.budgets), target_epochs=args.target_epochs, seeds=args.seeds,
                          seed=args.seed, flops_max=parse_quantity(args.flops_max, "--flops-max"),
                          margin=args.margin, storage=args.storage, storage_retry=storage_retry_of(args),
                          workers=workers_of(args), workers_per_device=args.workers_per_device, device=args.device)
    handle = run_calibration(cfg, out=sys.stdout if cfg.workers == 1 else None)
    table, ceiling = signal_table(runs_frame(handle.study), cfg.target_epochs)
    chosen = recommend(table, cfg.margin, ceiling)
    handle.study.set_user_attr("calibration", chosen.to_attrs())
    print(format_table(table, ceiling, chosen, cfg.target_epochs))
    folder = study_dir(cfg.study_name)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "calibration.csv", index=False)
    plot = plot_taus(table, ceiling, str(folder / "calibration.png"), title=f"{cfg.study_name}")
    print(f"wrote {folder / 'calibration.csv'} and {plot}; the recommendation is recorded in study "
          f"{cfg.study_name!r}")
    return 0
