"""``search``, ``pareto`` and ``studies``: run a search, read its front, list the studies."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from ..train.dataset_names import DATASET_HELP
from .signal import signal_of
from .storage_retry import add_storage_retry, storage_retry_of
from .workers import add_workers, workers_of

def add_search(sub: argparse._SubParsersAction) -> None:
    from ..model.latency_settings import RUNTIMES
    from ..study.budgets import OBJECTIVES, REWARD_ON
    from ..study.sampling.samplers import GP_TRIALS_IN_AUTO, PRUNERS, SAMPLERS
    from ..study.search_config import SearchConfig
    from ..train.rungs import FIDELITIES, SCREENS, Rungs
    from ..train.signals import ACCURACY, DEFAULT_SIGNAL, SIGNALS

    defaults, rungs = SearchConfig(), Rungs()  # the one place each default is written

    p = sub.add_parser("search", help="multi-objective search: a score that ranks like real training up (NASWOT by default), FLOPs down",
                       description="FLOPs are fvcore's count (1 multiply-add = 1 flop, eval mode, batch 1).")
    p.add_argument("--space", default=defaults.space, help="search-space YAML file or shipped name (mobile, mixed, resnet, efficientnetv2)")
    p.add_argument("--dataset", default=defaults.dataset,
                   help=DATASET_HELP)
    p.add_argument("--study", default=defaults.study, help="study name; results go to results/<study>/")
    p.add_argument("--trials", type=int, default=defaults.trials, help="evaluated trials wanted in the study (resumes)")
    p.add_argument("--epochs", type=float, default=None, help=f"training epochs per candidate (default {defaults.train.epochs:g}; see BENCHMARKS.md §4)")
    p.add_argument("--time-budget", type=float, default=None, help="training seconds per candidate")
    p.add_argument("--signal", default=None, metavar="NAME[@EPOCHS]|auto",
                   help=f"what candidates are ranked by: {', '.join(SIGNALS)} (NAME@E trains E epochs; "
                        f"a signal at initialisation trains nothing), or auto: what `nas calibrate` recommended "
                        f"for this space and dataset (default {DEFAULT_SIGNAL}, which ranked best on both "
                        f"embedded harder tasks, BENCHMARKS.md §4b; with --epochs or --time-budget, "
                        f"--fidelity sh or the reward mode: {ACCURACY})")
    p.add_argument("--calibration", default=None, metavar="STUDY",
                   help="with --signal auto: the calibration study to follow (default "
                        "calibrate-<space>-<dataset>; without one, --signal auto keeps the default)")
    p.add_argument("--fidelity", default="single", choices=FIDELITIES,
                   help="single: every candidate trained --epochs; sh: asynchronous successive halving: "
                        "candidates ranked by --screen at initialisation, the top 1/--eta trained "
                        "--min-epochs x --eta^k up to --max-epochs, promoted by Pareto rank at every rung "
                        "(BENCHMARKS.md §11, §16)")
    p.add_argument("--screen", default=None, metavar="SIGNAL|none",
                   help=f"sh: the signal at initialisation that ranks every candidate before any training "
                        f"({', '.join(SCREENS)}), or none: the first rung trains (default {rungs.screen}: "
                        f"halving over trained rungs alone stayed below single fidelity, BENCHMARKS.md §16)")
    p.add_argument("--eta", type=float, default=None, help=f"sh: keep the top 1/eta of each rung (default {rungs.eta:g})")
    p.add_argument("--min-epochs", type=float, default=None, help=f"sh: first rung's epochs (default {rungs.min_epochs:g})")
    p.add_argument("--max-epochs", type=float, default=None, help=f"sh: top rung's epochs (default {rungs.max_epochs:g})")
    p.add_argument("--checkpoint-dir", default=None,
                   help="sh: run checkpoints, shared by all workers (default results/<study>/checkpoints)")
    p.add_argument("--batch-size", type=int, default=defaults.train.batch_size,
                   help="training batch size (BENCHMARKS.md §6)")
    p.add_argument("--lr", type=float, default=None, help=f"peak learning rate (default {defaults.train.lr:g})")
    p.add_argument("--flops-max", default=None, help="hard FLOPs budget, e.g. 20M (k/M/G suffixes)")
    p.add_argument("--params-max", default=None, help="hard parameter budget, e.g. 500k")
    p.add_argument("--flops-target", default=None,
                   help="MnasNet single-objective reward ACC x (FLOPs/T)^w with this T")
    p.add_argument("--latency-target", default=None, metavar="TIME",
                   help="with --reward-on latency: MnasNet's reward ACC x (latency/T)^w with this T, e.g. 2ms "
                        "(latency measured as --latency-on says)")
    p.add_argument("--reward-on", default=defaults.reward_on, choices=tuple(REWARD_ON),
                   help="what the reward mode weighs: fvcore FLOPs (--flops-target, default) or measured "
                        "latency (--latency-target), as MnasNet did")
    p.add_argument("--reward-exponent", type=float, default=defaults.reward_exponent,
                   help="w in the reward ACC x (cost/T)^w (MnasNet's -0.07)")
    p.add_argument("--sampler", default=defaults.sampler, choices=SAMPLERS,
                   help=f"auto (default): GP for the first {GP_TRIALS_IN_AUTO} trials, then TPE "
                        f"(BENCHMARKS.md sections 2 and 12)")
    p.add_argument("--objectives", default=defaults.objectives, choices=OBJECTIVES,
                   help="what accuracy is traded against: fvcore FLOPs (default), measured latency "
                        "(--latency-on), or both")
    p.add_argument("--latency-max", default=None, metavar="TIME",
                   help="hard budget on measured latency, e.g. 2ms or 500us: measured once per architecture "
                        "before training (after the FLOPs check), and an architecture over it is never "
                        "trained; needs --workers 1")
    p.add_argument("--latency-on", default=defaults.latency_on, choices=RUNTIMES,
                   help="where latency is measured, i.e. where you deploy (default torch-cpu: eager PyTorch, "
                        "1 thread); onnxruntime needs the export extra")
    p.add_argument("--latency-batch", type=int, default=defaults.latency_batch, metavar="B", help="batch size of the latency measurement")
    p.add_argument("--pruner", default=defaults.pruner, choices=PRUNERS, help="reward mode only")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="seed of the sampler, the train/validation split and training")
    p.add_argument("--seed-archs", action="store_true",
                   help="evaluate the space's reference architectures first")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL or journal:FILE.log (default: results/<study>/journal.log, "
                        "or an older study's results/<study>/study.db)")
    p.add_argument("--device", default=defaults.device, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                   help="share of the non-test images held out for validation (stratified)")
    p.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                   help="held-out test share carved before the train/val split, where the data has "
                        "no test set of its own (search never reads it; retrain scores on it)")
    add_workers(p, "the study (--trials is the study-wide total)")
    p.add_argument("--devices", default=None, help="GPU ids for the workers, e.g. 0,2,3 (default: all)")
    p.add_argument("--overlap-sampling", action=argparse.BooleanOptionalAction, default=None,
                   help="ask the sampler for the next candidate while the current one trains "
                        "(default: on where the trials train on a GPU, off on the CPU; BENCHMARKS.md "
                        "sections 2 and 14)")
    p.add_argument("--stale-after", type=float, default=defaults.stale_after,
                   help="seconds without a heartbeat before a running trial counts as lost")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or per-trial lines")
    add_storage_retry(p)
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


def _rungs(args: argparse.Namespace):  # noqa: ANN202 - nas.train.rungs.Rungs
    from ..train.rungs import Rungs

    given = {name: getattr(args, name) for name in ("eta", "min_epochs", "max_epochs", "screen")
             if getattr(args, name) is not None}
    if given.get("screen") == "none":
        given["screen"] = None
    if args.fidelity == "single":
        if given or args.checkpoint_dir:
            flags = [f"--{n.replace('_', '-')}" for n in given] + (["--checkpoint-dir"] if args.checkpoint_dir else [])
            raise UserError(f"{', '.join(flags)}: only with successive halving (add --fidelity sh)")
        return None
    if args.epochs is not None or args.time_budget is not None:
        raise UserError("with --fidelity sh the budget is --min-epochs .. --max-epochs; drop --epochs/--time-budget")
    return Rungs(**given)


def _cmd_search(args: argparse.Namespace) -> int:
    storage_retry = storage_retry_of(args)
    from ..report.summary import report_search
    from ..study.search import SearchConfig, run_search
    from ..train.trainer import TrainConfig
    from ..train.signals import ACCURACY, SIGNALS
    from ..units import parse_milliseconds, parse_quantity

    signal, signal_epochs = signal_of(args)
    if args.fidelity == "sh" and args.signal == "auto" and signal is not None and SIGNALS[signal].at_init:
        # the calibration recommends a signal at initialisation: under halving it is the screen's,
        # and the trained rungs rank on accuracy
        if args.screen is None:
            args.screen = signal
            print(f"--signal auto with --fidelity sh: {signal} screens the candidates before training; the "
                  f"trained rungs rank on {ACCURACY}", file=sys.stderr)
        signal = None
    budget_given = args.epochs is not None or args.time_budget is not None
    if signal is None and budget_given and args.fidelity == "single":
        signal = ACCURACY  # a training budget given: rank by what the candidates reached
    if signal is not None and SIGNALS[signal].at_init and budget_given:
        raise UserError(f"--signal {signal} is measured at initialisation: nothing is trained, so --epochs and "
                        f"--time-budget do not apply; drop them, or rank trained candidates (e.g. --signal "
                        f"{ACCURACY})")
    if signal_epochs is not None and (args.epochs is not None or args.time_budget is not None):
        raise UserError(f"--signal {args.signal} sets the budget ({signal_epochs:g} epochs); drop --epochs/--time-budget")
    if signal_epochs is not None and args.fidelity == "sh" and args.signal == "auto":
        signal_epochs = None  # the calibration's budget gives way to the rungs'
    if signal_epochs is not None and args.fidelity == "sh":
        raise UserError(f"--signal {args.signal}: with --fidelity sh the rungs set the budgets "
                        f"(--min-epochs .. --max-epochs); give --signal {signal} without @EPOCHS")
    given = {"epochs": args.epochs, "time_budget": args.time_budget} if (
        args.epochs is not None or args.time_budget is not None) else {}
    if signal_epochs:
        given["epochs"] = signal_epochs
    if args.lr is not None:
        given["lr"] = args.lr
    train = TrainConfig(seed=args.seed, batch_size=args.batch_size, **given)
    rungs = _rungs(args)
    devices = _parse_devices(args.devices)
    workers = workers_of(args, devices)
    cfg = SearchConfig(
        space=args.space, dataset=args.dataset, study=args.study, trials=args.trials, train=train,
        flops_max=parse_quantity(args.flops_max, "--flops-max"),
        params_max=parse_quantity(args.params_max, "--params-max"),
        latency_max_ms=parse_milliseconds(args.latency_max, "--latency-max"), latency_on=args.latency_on,
        latency_batch=args.latency_batch, objectives=args.objectives,
        flops_target=parse_quantity(args.flops_target, "--flops-target"),
        latency_target_ms=parse_milliseconds(args.latency_target, "--latency-target"), reward_on=args.reward_on,
        reward_exponent=args.reward_exponent, sampler=args.sampler, pruner=args.pruner,
        seed=args.seed, seed_archs=args.seed_archs, storage=args.storage, storage_retry=storage_retry,
        device=args.device,
        val_fraction=args.val_fraction, test_fraction=args.test_fraction, progress=not args.no_progress,
        workers=workers,
        devices=devices, workers_per_device=args.workers_per_device, stale_after=args.stale_after,
        **({} if args.overlap_sampling is None else {"overlap_sampling": args.overlap_sampling}),
        group=args.group, fidelity=rungs, checkpoint_dir=args.checkpoint_dir, signal=signal,
        command=" ".join(["run_search.py", *sys.argv[1:]]))
    study = run_search(cfg)
    report_search(study, write_files=cfg.write_files)
    return 0


def add_pareto(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="print a study's Pareto front; write CSV and a plot")
    p.add_argument("--study", required=True, help="the study to show")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (sqlite:///F.db, postgresql://...) or journal:FILE.log (default: the journal file results/<study>/journal.log)")
    p.add_argument("--csv", default=None, help="write the front as CSV here")
    p.add_argument("--plot", default=None, help="FILE.png|.svg|.pdf|.html")
    p.add_argument("--final", action="store_true",
                   help="the final front: retrained architectures scored on the held-out test split")
    p.add_argument("--by", default=None, choices=("flops", "latency"),
                   help="what accuracy is traded against: fvcore FLOPs or the latency measured during the "
                        "search (default: the study's own second objective)")
    p.set_defaults(handler=_cmd_pareto)


def _cmd_final(args: argparse.Namespace) -> int:
    from ..report.final import final_frame, final_front, format_final, load_retrain
    from ..report.results import trials_frame
    from ..study.store.storage import load_handle

    search = load_handle(args.storage, args.study)
    final = final_frame(load_retrain(search))
    front = final_front(final)
    print(format_final(front))
    from ..report.plots import plot_final
    return _write(args, front, lambda path: plot_final(trials_frame(search.study), final, path,
                                                       title=f"study {args.study}"))


def _write(args: argparse.Namespace, front, plot) -> int:  # noqa: ANN001 - DataFrame, path -> path
    """``--csv`` and ``--plot`` of ``pareto``, for the brief and the final front alike."""
    if args.csv:
        front.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        print(f"wrote {plot(args.plot)}")
    return 0


def _cmd_pareto(args: argparse.Namespace) -> int:
    from ..report.results import (format_front, has_latency, hypervolume, knee, pareto_frame, study_cost,
                                  trials_frame)
    from ..study.store.records import StudyRecord
    from ..study.store.storage import load_study

    if args.final:
        return _cmd_final(args)
    study = load_study(args.storage, args.study)
    frame = trials_frame(study)
    record = StudyRecord.from_study(study)
    convention = record.latency
    if args.by is None:
        args.by = study_cost(record.objectives)
    if args.by == "latency" and not has_latency(frame):
        raise UserError(f"study {args.study!r} has no measured latency: search it with --latency-max "
                        f"(allowed here: --by flops)")
    front = pareto_frame(frame, args.by)
    print(format_front(front, args.by, convention))
    if not front.empty:
        k = knee(front, args.by)
        cost = (f"{k['flops'] / 1e6:.2f}M FLOPs" if args.by == "flops" else f"{k['latency_ms']:.3f} ms")
        print(f"knee: trial {int(k['number'])} (acc {k['accuracy']:.4f}, {cost}); hypervolume "
              f"{hypervolume(frame, by=args.by):.4g} (reference: accuracy 0, 1.1 x max {args.by})")
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    print(f"trials: {len(frame)} ({', '.join(f'{v} {k.lower()}' for k, v in counts.items())})")
    from ..report.plots import plot_front
    return _write(args, front, lambda path: plot_front(frame, path, title=f"study {args.study}", by=args.by,
                                                       latency_convention=convention))
