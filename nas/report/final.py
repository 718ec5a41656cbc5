"""Final results: what ``retrain`` measured on the held-out test split, as DataFrames and a front.

``runs_frame``: one row per (architecture, seed) run. ``final_frame``: one row per architecture
and budget: test accuracy mean and sd over seeds, params, FLOPs (fvcore convention), wall time.
``final_front``: the non-dominated architectures by (mean test accuracy, FLOPs), each at its
largest retrained budget. ``results/<study>/retrain.csv`` is ``final_frame``.
"""

from __future__ import annotations

import optuna
import pandas as pd

from ..errors import UserError
from ..pareto import non_dominated
from ..study.store.records import records_frame
from ..study.store.storage import StudyHandle, retrain_study_name, study_exists

RUN_COLUMNS = ("label", "source_trial", "key", "arch", "seed", "budget_epochs", "test_accuracy",
               "params", "flops", "train_time", "total_time", "weights", "fail_reason")
FINAL_COLUMNS = ["label", "source_trial", "key", "epochs", "seeds", "test_acc_mean", "test_acc_sd",
                 "params", "flops", "wall_s_mean", "arch"]


def load_retrain(search: StudyHandle) -> optuna.Study:
    name = retrain_study_name(search.name)
    if not study_exists(search.storage, name):
        raise UserError(f"study {search.name!r} has no final results yet; run "
                        f"`retrain --study {search.name}` first")
    return optuna.load_study(study_name=name, storage=search.storage)


def runs_frame(retrain: optuna.Study) -> pd.DataFrame:
    return records_frame(retrain, RUN_COLUMNS)


def final_frame(retrain: optuna.Study) -> pd.DataFrame:
    """Per architecture and budget, over its completed seeds."""
    runs = runs_frame(retrain)
    runs = runs[(runs["state"] == "COMPLETE") & runs["test_accuracy"].notna()]
    if runs.empty:
        return pd.DataFrame(columns=FINAL_COLUMNS)
    groups = runs.groupby(["key", "budget_epochs"], sort=False)
    frame = pd.DataFrame({
        "label": groups["label"].first(), "source_trial": groups["source_trial"].first(),
        "seeds": groups["seed"].count(), "test_acc_mean": groups["test_accuracy"].mean(),
        "test_acc_sd": groups["test_accuracy"].std(ddof=1).fillna(0.0),
        "params": groups["params"].first(), "flops": groups["flops"].first(),
        "wall_s_mean": groups["total_time"].mean(), "arch": groups["arch"].first()}).reset_index()
    frame = frame.rename(columns={"budget_epochs": "epochs"})
    return frame[FINAL_COLUMNS].sort_values(["flops", "epochs"]).reset_index(drop=True)


def final_front(final: pd.DataFrame) -> pd.DataFrame:
    """Non-dominated (mean test accuracy up, FLOPs down), each architecture at its largest budget."""
    if final.empty:
        return final
    latest = final.sort_values("epochs").groupby("key", sort=False).tail(1)
    mask = non_dominated(latest["test_acc_mean"].to_numpy(float), latest["flops"].to_numpy(float))
    return latest[mask].sort_values("flops").reset_index(drop=True)


# how every final figure was made, and the FLOPs convention, in each table's heading
SCORED = ("trained on train+val, scored on the held-out test split{never}; FLOPs = fvcore, 1 multiply-add = 1 flop, "
          "eval mode, batch 1")


def format_final(front: pd.DataFrame) -> str:
    if front.empty:
        return "final front: empty (no completed retrain runs yet)"
    lines = [f"Final front ({len(front)} architecture{'s' if len(front) != 1 else ''}; test accuracy = mean +/- sd "
             f"over seeds, {SCORED.format(never='')}):",
             f"{'source':>12}  {'test acc':>15}  {'seeds':>5}  {'epochs':>6}  {'FLOPs':>8}  {'params':>8}"]
    for _, r in front.iterrows():
        lines.append(f"{str(r['label']):>12}  {r['test_acc_mean']:.4f} +/- {r['test_acc_sd']:.4f}  "
                     f"{int(r['seeds']):>5}  {r['epochs']:>6g}  {r['flops'] / 1e6:>7.2f}M  {r['params'] / 1e3:>7.1f}k")
    return "\n".join(lines)


def comparison_frame(final: pd.DataFrame, labels: list[tuple[str, str]], epochs: float) -> pd.DataFrame:
    """The rows of ``final`` for the (label, genotype key) pairs asked for, in that order, at
    ``epochs``: what ``retrain --arch knee nearest-reference`` compares."""
    at = final[final["epochs"] == epochs].set_index("key")
    rows = [{**at.loc[key].to_dict(), "key": key, "label": label} for label, key in labels if key in at.index]
    return pd.DataFrame(rows, columns=FINAL_COLUMNS)


def format_comparison(rows: pd.DataFrame) -> str:
    """Found against hand-designed: each architecture's held-out test accuracy (mean +/- sd over
    seeds), FLOPs and parameters, then the knee's difference to each reference."""
    if rows.empty:
        return "comparison: no completed retrain runs yet"
    first = rows.iloc[0]
    lines = [f"Found against hand-designed ({int(first['seeds'])} seed(s), {first['epochs']:g} epochs each, "
             f"{SCORED.format(never=' the search never read')}):",
             f"{'architecture':<24}  {'test accuracy':>17}  {'FLOPs':>8}  {'params':>8}"]
    for _, r in rows.iterrows():
        lines.append(f"{str(r['label']):<24}  {100 * r['test_acc_mean']:>6.2f} +/- {100 * r['test_acc_sd']:.2f} %  "
                     f"{r['flops'] / 1e6:>7.2f}M  {r['params'] / 1e3:>7.1f}k")
    found = rows[~rows["label"].astype(str).str.startswith("reference")]
    refs = rows[rows["label"].astype(str).str.startswith("reference")]
    for _, f in found.head(1).iterrows():
        for _, r in refs.iterrows():
            diff = 100 * (f["test_acc_mean"] - r["test_acc_mean"])
            noise = 100 * (f["test_acc_sd"] + r["test_acc_sd"])
            verdict = "within the seeds' spread" if abs(diff) <= noise else ("better" if diff > 0 else "worse")
            lines.append(f"{f['label']} against {r['label']}: {diff:+.2f} points of test accuracy "
                         f"({verdict}: sd {100 * f['test_acc_sd']:.2f} and {100 * r['test_acc_sd']:.2f}) at "
                         f"{f['flops'] / r['flops']:.2f}x its FLOPs")
    return "\n".join(lines)
