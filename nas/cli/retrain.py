"""``retrain``: train chosen architectures from scratch on train+val and score them on test."""

from __future__ import annotations

import argparse

from ..errors import UserError
from .aliases import add_renamed
from .storage_retry import add_storage_retry, storage_retry_of
from .workers import add_workers, workers_of
from .limits import add_max_params, max_params


def add_retrain(sub: argparse._SubParsersAction) -> None:
    from ..study.budgets import DEFAULT_RETRAIN_EPOCHS, DEFAULT_SEEDS

    p = sub.add_parser("retrain", help="train chosen architectures for a real budget and score them on "
                                       "the held-out test split")
    p.add_argument("--study", required=True, help="the search study (its data, split and training settings are reused)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (sqlite:///F.db, postgresql://...) or journal:FILE.log (default: the journal file results/<study>/journal.log)")
    p.add_argument("--arch", nargs="+", default=["front"], metavar="SPEC",
                   help="front | knee | best | trial numbers ID,ID,... | genotype FILE.json | nearest-reference "
                        "(the space's hand-designed reference nearest in FLOPs to the knee) | references "
                        "(every reference of the space); several allowed")
    add_renamed(p, "--trials", "--arch", nargs="+")
    p.add_argument("--final-epochs", type=float, default=DEFAULT_RETRAIN_EPOCHS, metavar="E",
                   help=f"training epochs of each run (default {DEFAULT_RETRAIN_EPOCHS:g}; see BENCHMARKS.md §9)")
    add_renamed(p, "--epochs", "--final-epochs", type=float)
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="runs per architecture (seeds 0..K-1)")
    add_workers(p, "the runs")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto: the first GPU, else the CPU)")
    add_max_params(p)
    add_storage_retry(p)
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines inside long runs (shown only on a terminal, at most every 5 s)")
    p.set_defaults(handler=_cmd_retrain)


def candidates(study, specs: list[str], limit: float) -> list:  # noqa: ANN001 - optuna.Study -> list[Candidate]
    """``--arch`` values in order, each architecture once."""
    import math
    from dataclasses import replace
    from pathlib import Path

    from ..arch.genotype import Genotype
    from ..report.describe import resolve_arch
    from ..report.results import front_basis, pareto_frame, resolve_trial, trials_frame
    from ..study.store.records import TrialRecord
    from ..model.cost import estimate_cost
    from ..study.opening import study_references
    from ..study.retrain import Candidate

    def of_trial(spec: str | int) -> Candidate:
        t = resolve_trial(study, spec, say=print)
        g = Genotype.from_json(TrialRecord.from_trial(t).genotype, source=f"trial {t.number}")
        label = f"knee, trial {t.number}" if spec == "knee" else f"trial {t.number}"
        return Candidate(label, g, t.number)

    chosen: list[Candidate] = []
    for spec in specs:
        if spec == "front":
            frame = trials_frame(study)
            front = pareto_frame(frame)
            basis = front_basis(frame)
            if basis:
                print(f"front: {basis}")
            if front.empty:
                raise UserError(f"study {study.study_name!r} has no completed feasible trials to retrain")
            chosen += [of_trial(int(n)) for n in front["number"]]
        elif spec in ("knee", "best"):
            chosen.append(of_trial(spec))
        elif spec in ("nearest-reference", "references"):
            refs = [Candidate(f"reference {g.name}", g) for g in study_references(study)]
            if spec == "nearest-reference":
                knee_flops = estimate_cost(of_trial("knee").genotype).flops
                refs = [min(refs, key=lambda c: abs(math.log(estimate_cost(c.genotype).flops / knee_flops)))]
            chosen += refs
        elif spec.endswith(".json") or Path(spec).is_file():
            chosen.append(Candidate(Path(spec).name, resolve_arch(spec, limit)))
        else:
            chosen += [of_trial(part) for part in spec.split(",") if part.strip()]
    unique: dict[str, Candidate] = {}
    for c in chosen:
        first = unique.setdefault(c.genotype.key(), c)
        if first is not c and c.label.startswith("reference") and not first.label.startswith("reference"):
            # the search found a hand-designed reference itself: one row, saying so
            unique[c.genotype.key()] = replace(first, label=f"{first.label} = {c.label}")
    return list(unique.values())


def _cmd_retrain(args: argparse.Namespace) -> int:
    storage_retry = storage_retry_of(args)
    from ..report.final import comparison_frame, final_frame, final_front, format_comparison, format_final
    from ..study.retrain import run_retrain
    from ..study.run.group_size import parse_group
    from ..study.store.storage import load_handle, study_dir

    if args.final_epochs <= 0:
        raise UserError(f"--final-epochs must be positive, got {args.final_epochs:g}")
    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    group = parse_group(args.group)
    workers = workers_of(args)
    search = load_handle(args.storage, args.study, retry_window=storage_retry)
    chosen = candidates(search.study, args.arch, max_params(args))
    import sys

    retrain = run_retrain(search, chosen, args.final_epochs, args.seeds, workers, args.device,
                          out=sys.stdout if workers == 1 else None,  # a line per run (workers: their own)
                          workers_per_device=args.workers_per_device, group=group)
    final = final_frame(retrain.study)
    if any(c.label.startswith("reference") for c in chosen):  # found against hand-designed
        asked = [(c.label, c.genotype.key()) for c in chosen]
        print(format_comparison(comparison_frame(final, asked, args.final_epochs)))
    else:
        print(format_final(final_front(final)))
    folder = study_dir(args.study)
    folder.mkdir(parents=True, exist_ok=True)
    final.to_csv(folder / "retrain.csv", index=False)
    print(f"wrote {folder / 'retrain.csv'} ({len(final)} architecture{'s' if len(final) != 1 else ''}; "
          f"per-run weights in {folder / 'retrain'})")
    return 0
