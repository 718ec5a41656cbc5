"""``export``: write a chosen architecture (genotype JSON, weights, TorchScript, ONNX)."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from .aliases import add_renamed
from .limits import add_max_params, max_params

def add_export(sub: argparse._SubParsersAction) -> None:
    from ..model.latency_settings import RUNTIMES

    p = sub.add_parser("export", help="write a chosen architecture: genotype JSON, weights, TorchScript, ONNX")
    p.add_argument("--study", required=True, help="the search study the architecture comes from")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (sqlite:///F.db, postgresql://...) or journal:FILE.log (default: the journal file results/<study>/journal.log)")
    p.add_argument("--arch", default="knee", metavar="SPEC",
                   help="which architecture: knee, best, or a trial number (as `retrain --arch` and `scale --arch`)")
    add_renamed(p, "--trial", "--arch")
    p.add_argument("--scaled", type=int, default=None, metavar="PHI",
                   help="export the compound-scaled member phi of the family (run `scale` first)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--final-epochs", type=float, default=None, metavar="E",
                   help="train on the training split for E epochs and export the weights")
    add_renamed(p, "--train-epochs", "--final-epochs", type=float)
    p.add_argument("--retrained", action="store_true",
                   help="export the weights `retrain` trained for this architecture (lowest seed, "
                        "largest budget) instead of training again")
    p.add_argument("--format", default=None,
                   help="comma-separated: json (genotype.json, arch.txt), model_py (model.py: plain PyTorch "
                        "source, needs only torch), state_dict (weights.pt), torchscript (model.ts), pt2 "
                        "(torch.export), onnx (default: json,model_py, and with trained weights, --retrained or "
                        "--final-epochs, all six); a format asked for that cannot be written is refused before "
                        "anything is")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto: the first GPU, else the CPU)")
    p.add_argument("--include-preprocessing", action=argparse.BooleanOptionalAction, default=True,
                   help="model.ts and model.onnx take raw uint8 images at the data's size and resize and "
                        "normalise them as training did (data_config.json says how); on by default, so that "
                        "a deployment needs nothing but the file")
    p.add_argument("--latency-on", default=None, choices=RUNTIMES,
                   help="measure the architecture's latency on this runtime for the model card (default: "
                        "where the search measured latency, if it did; its figure is reused)")
    add_max_params(p)
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines inside long runs (shown only on a terminal, at most every 5 s)")
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..arch.genotype import Genotype
    from ..model.limits import check_size
    from ..report.export import export_model
    from ..report.results import resolve_trial
    from ..study.latency_book import settings_for
    from ..study.store.records import StudyRecord, TrialRecord
    from ..scaling.family import family_member
    from ..study.opening import study_dataset
    from ..study.store.storage import load_study
    from ..train.trainer import train_candidate
    from ..train.device_data import data_config
    from ..train.signals import describe_signal

    from ..train.devices import check_device

    check_device(args.device)
    formats = _formats(args)
    study = load_study(args.storage, args.study)
    record = StudyRecord.from_study(study)
    latency_settings = settings_for(record, args.latency_on)  # a missing runtime: refused before any work
    if args.scaled is not None:
        info = record.scaling
        if not info:
            raise UserError(f"study {args.study!r} has no scaling result; run `scale --study {args.study}` first")
        if args.scaled < 0:
            raise UserError(f"--scaled must be >= 0, got {args.scaled}")
        if info.grid_version < 2:
            raise UserError(f"study {args.study!r} was scaled by an older version (nominal FLOPs); run "
                            f"`scale --study {args.study}` again to land the family on measured FLOPs")
        base = Genotype.from_json(info.base_genotype)
        tolerance = info.tolerance
        member = family_member(base, info.alpha, info.beta, info.flops_factor, args.scaled, tolerance)
        if not member.within(tolerance):
            raise UserError(f"family member phi={args.scaled} cannot land within +/-{tolerance:.0%} of "
                            f"x{member.target:g} measured FLOPs (nearest: x{member.ratio:.2f}); nothing exported")
        g = member.genotype.with_updates(name=f"phi{args.scaled}")
        source = (f"{info.base} scaled by phi={args.scaled}: FLOPs x{member.ratio:.3f} measured "
                  f"(target x{member.target:g})")
        accuracy = "not measured (scaled, untrained)"
    else:
        t = resolve_trial(study, args.arch, say=print)
        r = TrialRecord.from_trial(t)
        g = Genotype.from_json(r.genotype, source=f"trial {t.number}")
        source = f"study {args.study}, trial {t.number}"
        accuracy = (f"{r.accuracy} (search, brief training)" if r.accuracy is not None else
                    f"not measured: the search scored it by {describe_signal(record.signal, None)} ({r.score:.4g})"
                    if r.score is not None else "not measured")
    check_size(g, source, max_params(args))  # a tampered study is input too: refuse before building
    model = None
    if args.retrained and args.final_epochs is not None:
        raise UserError("--retrained and --final-epochs exclude each other: the first reuses the weights "
                        "`retrain` trained, the second trains again")
    if args.retrained:
        model, accuracy = _retrained(args, g)
        from ..study.retrain import final_data
        from ..study.store.storage import load_handle

        trained_on = final_data(load_handle(args.storage, args.study))[0]  # train + validation
    elif args.final_epochs is not None:
        trained_on = study_dataset(record)  # the training split
    else:  # nothing to train: the search recorded what its networks expect (no data needed)
        trained_on = None
        recorded = record.data_config
        data_cfg = (recorded if recorded is not None and recorded.resolution == g.resolution
                    else data_config(study_dataset(record), g.resolution))
    if args.final_epochs is not None:
        if args.final_epochs <= 0:
            raise UserError("--final-epochs must be positive")
        from .workers import say_threads

        say_threads(args.device, 1)
        data = trained_on
        cfg = replace(record.train_config, epochs=args.final_epochs, time_budget=None)
        from ..train.epoch_lines import watching

        print(f"training {g.name or 'the architecture'} for {args.final_epochs:g} epochs on {data.describe()}",
              flush=True)
        with watching("export", sys.stdout):
            result = train_candidate(g, data, cfg, args.device, keep_model=True)
        model = result.model
        accuracy = f"{result.val_accuracy:.4f} (after {args.final_epochs:g} epochs on the training split)"
    if trained_on is not None:
        data_cfg = data_config(trained_on, g.resolution)  # what the weights were trained to expect
    card = {"title": g.name or f"{args.study} {args.arch}", "dataset": record.dataset_summary or record.dataset,
            "accuracy": accuracy, "source": source, "command": " ".join(["run_search.py", *sys.argv[1:]]),
            "data": data_cfg}
    latency = _latency(study, latency_settings, g)
    if latency is not None:
        card["latency"] = latency
        print(f"latency: {latency}")
    report = export_model(g, model, args.out, formats, card=card, data=data_cfg,
                          include_preprocessing=args.include_preprocessing)
    for name, path in report.files.items():
        diff = f" (reloaded, max |diff| {report.max_abs_diff[name]:.1e})" if name in report.max_abs_diff else ""
        print(f"wrote {path}{diff}")
    for name, why in report.skipped.items():
        print(f"skipped {name}: {why}")
    missing = [f for f in formats if f not in report.files]
    if missing:  # refused up front where foreseeable; never a silent success
        print(f"error: not written: {', '.join(missing)}", file=sys.stderr)
        return 1
    if model is None and args.format is None:
        print("no weights written: add --retrained (the weights `retrain` trained) or --final-epochs E for "
              "state_dict, torchscript, pt2 and onnx")
    return 0


def _formats(args: argparse.Namespace) -> tuple[str, ...]:
    """``--format``, checked before anything is written: a trained format asked for without weights,
    or ONNX without its package, is refused (exit 2); the default asks for what can be written."""
    from ..report.export import FORMATS, TRAINED_FORMATS, parse_formats

    trained = args.retrained or args.final_epochs is not None
    if args.format is None:
        return parse_formats(",".join(FORMATS) if trained else "json,model_py")
    formats = parse_formats(args.format)
    untrained = [f for f in formats if f in TRAINED_FORMATS]
    if untrained and not trained:
        raise UserError(f"--format {','.join(untrained)} needs trained weights: add --retrained (the weights "
                        f"`retrain` trained) or --final-epochs E, or ask for --format json")
    if "onnx" in formats:
        import importlib.util

        if importlib.util.find_spec("onnx") is None:
            raise UserError("--format onnx: the onnx package is not installed (pip install 'nas-toolkit[export]')")
    return formats


def _retrained(args: argparse.Namespace, g):  # noqa: ANN001, ANN202 - Genotype -> (model, accuracy text)
    from ..report.export import load_weights
    from ..report.final import load_retrain, runs_frame
    from ..study.store.storage import load_handle

    runs = runs_frame(load_retrain(load_handle(args.storage, args.study)))
    runs = runs[(runs["state"] == "COMPLETE") & (runs["key"] == g.key()) & runs["weights"].notna()]
    if runs.empty:
        raise UserError(f"this architecture ({g.key()}) has no retrained weights in study {args.study!r}; "
                        f"run `retrain --study {args.study} --arch {args.arch}` first")
    runs = runs[runs["budget_epochs"] == runs["budget_epochs"].max()]
    run = runs.sort_values("seed").iloc[0]
    model = load_weights(g, run["weights"])
    spread = runs["test_accuracy"]
    sd = f" +/- {spread.std(ddof=1):.4f}" if len(spread) > 1 else ""
    return model, (f"{run['test_accuracy']:.4f} on the held-out test split (seed {int(run['seed'])}; mean "
                   f"{spread.mean():.4f}{sd} over {len(spread)} seeds), after {run['budget_epochs']:g} "
                   f"epochs on train+val")


def _latency(study, settings, g) -> str | None:  # noqa: ANN001 - Study, LatencySettings | None, Genotype
    """The model card's latency: the search's figure for this genotype where it measured one in
    the same convention, else measured now; None where no runtime applies."""
    from ..study.latency_book import LatencyBook, recorded

    if settings is None:
        return None
    convention = settings.describe()
    return f"{LatencyBook(settings, recorded(study, convention)).of(g):.3f} ms ({convention})"
