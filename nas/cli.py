"""Command line: ``nas <command>`` or ``python run_search.py <command>``.

User errors (:class:`nas.errors.UserError`) print one line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import UserError

class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as a UserError (one line, exit 2) like every other mistake."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="per-stage params and FLOPs of an architecture")
    p.add_argument("--arch", required=True, help="zoo name, genotype JSON file, or arch string")
    p.add_argument("--width-mult", type=float, default=1.0)
    p.add_argument("--depth-mult", type=float, default=1.0)
    p.add_argument("--resolution", type=int, default=None)
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--in-channels", type=int, default=None)
    p.add_argument("--analytic", action="store_true",
                   help="use the analytic estimate instead of building the model for fvcore")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect_arch import describe, format_table, resolve_arch
    from .scaling import scale_genotype

    g = resolve_arch(args.arch)
    if args.width_mult <= 0 or args.depth_mult <= 0:
        raise UserError("--width-mult and --depth-mult must be positive")
    if args.resolution is not None and args.resolution < 8:
        raise UserError(f"--resolution must be >= 8, got {args.resolution}")
    updates = {k: v for k, v in (("num_classes", args.num_classes), ("in_channels", args.in_channels))
               if v is not None}
    if updates:
        g = g.with_updates(**updates)
    g = scale_genotype(g, args.width_mult, args.depth_mult, args.resolution)
    info = describe(g, measure=not args.analytic)
    print(json.dumps(info) if args.json else format_table(info))
    return 0


def _add_space(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="validate a search-space file and summarise it")
    p.add_argument("--space", required=True, help="YAML file, or the name of a shipped space")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_space)


def _cmd_space(args: argparse.Namespace) -> int:
    from .cost import FLOPS_CONVENTION, estimate_cost
    from .inspect_arch import human
    from .space import load_space

    space = load_space(args.space)
    refs = [{"name": g.name, "arch": g.arch, **vars(estimate_cost(g))} for g in space.reference_genotypes()]
    if args.json:
        print(json.dumps({"name": space.name, "source": space.source, "size": space.size(),
                          "stages": len(space.stages), "resolutions": list(space.resolutions),
                          "references": [{k: r[k] for k in ("name", "arch", "params", "flops")} for r in refs]}))
        return 0
    print(f"{space.name}: {space.description}  [{space.source}]")
    print(f"{space.size():,} distinct architectures, {len(space.stages)} stages, "
          f"resolution {', '.join(map(str, space.resolutions))} px")
    for i, sc in enumerate(space.stages):
        print(f"  stage {i}: cells {','.join(sc.cells)}  k {sc.kernels}  e {sc.expansions}  "
              f"se {sc.se_ratios}  r {sc.repeats}  c {sc.channels}  s{sc.stride}  "
              f"({len(sc.options())} options)")
    for r in refs:
        print(f"  reference {r['name']}: {human(r['params'])} params, {human(r['flops'])} FLOPs")
    print(f"FLOPs: {FLOPS_CONVENTION} [analytic estimate]")
    return 0


def _add_search(sub: argparse._SubParsersAction) -> None:
    from .search import DEFAULT_SAMPLER, PRUNERS, SAMPLERS

    p = sub.add_parser("search", help="multi-objective search: validation accuracy up, FLOPs down",
                       description="FLOPs are fvcore's count (1 multiply-add = 1 flop, eval mode, batch 1).")
    p.add_argument("--space", default="search_spaces/mobile.yaml", help="search-space YAML file or shipped name")
    p.add_argument("--dataset", default="mnist5k",
                   help="mnist5k | digits | cifar10:PATH | folder:PATH | npz:PATH")
    p.add_argument("--study", default="demo", help="study name; results go to results/<study>/")
    p.add_argument("--trials", type=int, default=40, help="evaluated trials wanted in the study (resumes)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs per candidate (default 1; see BENCHMARKS.md §4)")
    p.add_argument("--time-budget", type=float, default=None, help="training seconds per candidate")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.2)")
    p.add_argument("--flops-max", default=None, help="hard FLOPs budget, e.g. 20M (k/M/G suffixes)")
    p.add_argument("--params-max", default=None, help="hard parameter budget, e.g. 500k")
    p.add_argument("--flops-target", default=None,
                   help="MnasNet single-objective reward ACC x (FLOPs/T)^w with this T")
    p.add_argument("--reward-exponent", type=float, default=-0.07)
    p.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=SAMPLERS)
    p.add_argument("--pruner", default="none", choices=PRUNERS, help="reward mode only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seed-archs", action="store_true",
                   help="evaluate the space's reference architectures first")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL or journal:FILE.log (default sqlite results/<study>/study.db)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes sharing the study (--trials is the study-wide total)")
    p.add_argument("--devices", default=None, help="GPU ids for the workers, e.g. 0,2,3 (default: all)")
    p.add_argument("--stale-after", type=float, default=60.0,
                   help="seconds without a heartbeat before a running trial counts as lost")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_cmd_search)


def _parse_devices(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        ids = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--devices {text!r}: expected GPU ids separated by commas, e.g. 0,2,3") from None
    if not ids or min(ids) < 0:
        raise UserError(f"--devices {text!r}: expected GPU ids separated by commas, e.g. 0,2,3")
    return ids


def _cmd_search(args: argparse.Namespace) -> int:
    from .search import SearchConfig, parse_quantity, run_search
    from .train import TrainConfig

    train = TrainConfig(seed=args.seed, batch_size=args.batch_size)
    if args.epochs is not None or args.time_budget is not None:
        train.epochs = args.epochs
        train.time_budget = args.time_budget
    if args.lr is not None:
        train.lr = args.lr
    if (train.epochs is not None and train.epochs <= 0) or (train.time_budget is not None and train.time_budget <= 0):
        raise UserError("--epochs and --time-budget must be positive")
    if args.pruner != "none" and args.flops_target is None:
        raise UserError("--pruner needs the single-objective reward mode (--flops-target T)")
    cfg = SearchConfig(
        space=args.space, dataset=args.dataset, study=args.study, trials=args.trials, train=train,
        flops_max=parse_quantity(args.flops_max, "--flops-max"),
        params_max=parse_quantity(args.params_max, "--params-max"),
        flops_target=parse_quantity(args.flops_target, "--flops-target"),
        reward_exponent=args.reward_exponent, sampler=args.sampler, pruner=args.pruner,
        seed=args.seed, seed_archs=args.seed_archs, storage=args.storage, device=args.device,
        val_fraction=args.val_fraction, progress=not args.no_progress, workers=args.workers,
        devices=_parse_devices(args.devices), stale_after=args.stale_after,
        command=" ".join(["run_search.py", *sys.argv[1:]]))
    run_search(cfg)
    return 0


def _add_pareto(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="print a study's Pareto front; write CSV and a plot")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", default=None)
    p.add_argument("--csv", default=None, help="write the front as CSV here")
    p.add_argument("--plot", default=None, help="FILE.png|.svg|.pdf|.html")
    p.set_defaults(handler=_cmd_pareto)


def _cmd_pareto(args: argparse.Namespace) -> int:
    from .results import format_front, hypervolume, knee, pareto_frame, trials_frame
    from .storage import load_study

    study = load_study(args.storage, args.study)
    frame = trials_frame(study)
    front = pareto_frame(frame)
    print(format_front(front))
    if not front.empty:
        k = knee(front)
        print(f"knee: trial {int(k['number'])} (acc {k['accuracy']:.4f}, {k['flops'] / 1e6:.2f}M FLOPs); "
              f"hypervolume {hypervolume(frame):.4g} (reference: accuracy 0, 1.1 x max FLOPs)")
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    print(f"trials: {len(frame)} ({', '.join(f'{v} {k.lower()}' for k, v in counts.items())})")
    if args.csv:
        front.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        from .plots import plot_front
        print(f"wrote {plot_front(frame, args.plot, title=f'study {args.study}')}")
    return 0


def _add_studies(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studies", help="list studies with trial counts and best points")
    p.add_argument("--storage", default=None, help="a storage URL (default: every results/*/study.db)")
    p.set_defaults(handler=_cmd_studies)


def _cmd_studies(args: argparse.Namespace) -> int:
    import optuna

    from .results import pareto_frame, trials_frame
    from .storage import RESULTS_DIR, default_storage_urls, open_storage

    urls = [args.storage] if args.storage else default_storage_urls()
    rows = []
    for url in urls:
        storage = open_storage(url, "")
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            frame = trials_frame(study)
            front = pareto_frame(frame)
            best = front.sort_values("accuracy").iloc[-1] if not front.empty else None
            rows.append((summary.study_name, len(frame), len(front),
                         f"{best['accuracy']:.4f} @ {best['flops'] / 1e6:.2f}M" if best is not None else "-",
                         url))
    if not rows:
        print("no studies found" + ("" if args.storage else f" under {RESULTS_DIR}/"))
        return 0
    print(f"{'study':<20} {'trials':>6} {'front':>5}  {'best acc @ FLOPs':<20} storage")
    for name, n, f, best, url in rows:
        print(f"{name:<20} {n:>6} {f:>5}  {best:<20} {url}")
    return 0


def _add_scale(sub: argparse._SubParsersAction) -> None:
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


def _cmd_scale(args: argparse.Namespace) -> int:
    from .scale import run_scaling
    from .storage import load_study

    if args.phi_max < 1:
        raise UserError("--phi-max must be >= 1")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    study = load_study(args.storage, args.study)
    run_scaling(study, args.storage, base=args.base, flops_factor=args.flops_factor, step=args.grid_step,
                tolerance=args.tolerance, phi_max=args.phi_max, trials=args.trials, device=args.device,
                compare_single=args.compare_single, workers=args.workers)
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a chosen architecture: genotype JSON, weights, TorchScript, ONNX")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", default=None)
    p.add_argument("--trial", default="knee", help="trial number, best or knee")
    p.add_argument("--scaled", type=int, default=None, metavar="PHI",
                   help="export the compound-scaled member phi of the family (run `scale` first)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--train-epochs", type=float, default=None,
                   help="train on the training split for this many epochs and export the weights")
    p.add_argument("--format", default="json,state_dict,torchscript,onnx")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .data import load_dataset
    from .export import export_model, parse_formats
    from .genotype import Genotype
    from .results import resolve_trial
    from .scale import scaled
    from .storage import load_study
    from .train import TrainConfig, train_candidate

    formats = parse_formats(args.format)
    study = load_study(args.storage, args.study)
    attrs = study.user_attrs
    if args.scaled is not None:
        info = attrs.get("scaling")
        if not info:
            raise UserError(f"study {args.study!r} has no scaling result; run `scale --study {args.study}` first")
        base = Genotype.from_json(info["base_genotype"])
        g = scaled(base, info["alpha"], info["beta"], info["gamma"], args.scaled)
        source, accuracy = f"{info['base']} scaled by phi={args.scaled}", "not measured (scaled, untrained)"
    else:
        t = resolve_trial(study, args.trial)
        g = Genotype.from_json(t.user_attrs["genotype"], source=f"trial {t.number}")
        source, accuracy = f"study {args.study}, trial {t.number}", f"{t.user_attrs.get('accuracy')} (search, brief training)"
    model = None
    if args.train_epochs is not None:
        if args.train_epochs <= 0:
            raise UserError("--train-epochs must be positive")
        data = load_dataset(attrs.get("dataset", "mnist5k"), attrs.get("val_fraction", 0.2), attrs.get("seed", 0))
        cfg = replace(TrainConfig.from_dict(attrs.get("train_config")), epochs=args.train_epochs, time_budget=None)
        result = train_candidate(g, data, cfg, args.device, keep_model=True)
        model = result.model
        accuracy = f"{result.val_accuracy:.4f} (after {args.train_epochs:g} epochs on the training split)"
    report = export_model(g, model, args.out, formats, card={
        "title": g.name or f"{args.study} {args.trial}", "dataset": attrs.get("dataset_summary", attrs.get("dataset")),
        "accuracy": accuracy, "source": source, "command": " ".join(["run_search.py", *sys.argv[1:]])})
    for name, path in report.files.items():
        diff = f" (reloaded, max |diff| {report.max_abs_diff[name]:.1e})" if name in report.max_abs_diff else ""
        print(f"wrote {path}{diff}")
    for name, why in report.skipped.items():
        print(f"skipped {name}: {why}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nas", description="Neural architecture search and compound scaling.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_inspect(sub)
    _add_space(sub)
    _add_search(sub)
    _add_pareto(sub)
    _add_studies(sub)
    _add_scale(sub)
    _add_export(sub)
    return parser


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        # A scheduler's SIGTERM ends a search as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
