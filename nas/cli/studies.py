"""``studies``: every study this toolkit wrote, each with its own kind of score."""

from __future__ import annotations

import argparse


def add_studies(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studies", help="list studies with trial counts and best points")
    p.add_argument("--storage", default=None,
                   help="a storage URL (default: every results/*/journal.log and results/*/study.db)")
    p.set_defaults(handler=_cmd_studies)


def _cmd_studies(args: argparse.Namespace) -> int:
    import optuna

    from ..study.store.storage import default_storage_urls, open_storage, results_dir

    urls = [args.storage] if args.storage else default_storage_urls()
    rows = []
    for url in urls:
        storage = open_storage(url, "")
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            rows.append((summary.study_name, *_study_summary(study), url))
    if not rows:
        print("no studies found" + ("" if args.storage else f" under {results_dir()}/"))
        return 0
    print(f"{'study':<20} {'kind':<11} {'trials':>6} {'front':>5}  {'best':<34} storage")
    for name, kind, n, f, best, url in rows:
        print(f"{name:<20} {kind:<11} {n:>6} {f:>5}  {best:<34} {url}")
    print("best: accuracy @ FLOPs (fvcore's count, 1 multiply-add = 1 flop, eval, batch 1); a search's is "
          "its brief validation score, a retrain's the held-out test accuracy, mean over seeds")
    return 0


def _study_summary(study) -> tuple[str, int, int | str, str]:  # noqa: ANN001 - optuna.Study
    """(kind, trials, front size, best) of any study this toolkit writes: a search, its retrain
    (test scores, mean over seeds), its scaling grid, a calibration."""
    import optuna

    from ..report.final import final_front, final_frame
    from ..report.results import pareto_frame, trials_frame

    if "test_accuracy" in (study.metric_names or []):
        final = final_frame(study)
        front = final_front(final)
        best = front.sort_values("test_acc_mean").iloc[-1] if not front.empty else None
        n = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        return ("retrain", n, len(front), "-" if best is None else
                f"test {best['test_acc_mean']:.4f} @ {best['flops'] / 1e6:.2f}M ({int(best['seeds'])} seed{'' if best['seeds'] == 1 else 's'})")
    frame = trials_frame(study)
    if "calibration_settings" in study.user_attrs or "settings" in study.user_attrs:
        kind = "calibration" if "calibration_settings" in study.user_attrs else "scale grid"
        done = frame[frame["accuracy"].notna()] if "accuracy" in frame else frame.iloc[:0]
        best = done.sort_values("accuracy").iloc[-1] if not done.empty else None
        return (kind, len(frame), "-", "-" if best is None or "flops" not in best else
                f"val {best['accuracy']:.4f} @ {best['flops'] / 1e6:.2f}M")
    front = pareto_frame(frame)
    best = front.sort_values("score").iloc[-1] if not front.empty else None
    if best is None:
        return "search", len(frame), len(front), "-"
    trained = best["accuracy"] == best["accuracy"]  # NaN where a zero-cost signal scored it untrained
    score = f"val {best['accuracy']:.4f}" if trained else f"score {best['score']:.4g} (untrained)"
    return "search", len(frame), len(front), f"{score} @ {best['flops'] / 1e6:.2f}M"
