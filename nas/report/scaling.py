"""Scaled networks scored on the held-out test split: the family's accuracy-FLOPs curve and the
compound versus single-dimension comparison, as DataFrames and printed tables.

The rows come from :func:`nas.scaling.family.variants_frame` (what was built, its measured FLOPs
ratio, fvcore convention); the scores from ``retrain``'s runs of those networks (trained on
train + validation, tested on the test split), matched by genotype key, budget and seeds.
"""

from __future__ import annotations

import optuna
import pandas as pd

from ..model.cost import FLOPS_CONVENTION
from .final import runs_frame


def with_test_accuracy(variants: pd.DataFrame, retrain: optuna.Study, epochs: float, seeds: int) -> pd.DataFrame:
    """``variants`` plus test_acc_mean, test_acc_sd (over seeds 0..seeds-1) and seeds_done."""
    runs = runs_frame(retrain)
    runs = runs[(runs["state"] == "COMPLETE") & runs["test_accuracy"].notna()
                & (runs["budget_epochs"] == float(epochs)) & (runs["seed"] < seeds)]
    groups = runs.groupby("key")["test_accuracy"]
    scores = pd.DataFrame({"test_acc_mean": groups.mean(), "test_acc_sd": groups.std(ddof=1).fillna(0.0),
                           "seeds_done": groups.count()}).reset_index()
    frame = variants.merge(scores, on="key", how="left")
    frame["seeds_done"] = frame["seeds_done"].fillna(0).astype(int)
    return frame


def format_scaled(frame: pd.DataFrame, title: str, epochs: float) -> str:
    """One line per network: measured FLOPs ratio against its target, then mean +/- sd test accuracy."""
    lines = [f"{title} (test accuracy = mean +/- sd over seeds, {epochs:g} epochs on train+val, scored on "
             f"the held-out test split; FLOPs ratio measured, {FLOPS_CONVENTION})",
             f"{'scaling':>22}  {'target':>7}  {'measured':>8}  {'depth':>5}  {'width':>5}  {'px':>4}  "
             f"{'params':>8}  {'test accuracy':>17}  {'seeds':>5}"]
    for _, r in frame.iterrows():
        if not r["within_tolerance"]:
            score = f"skipped: lands at {r['error']:+.0%}"
        elif r["seeds_done"] == 0:
            score = "not trained"
        else:
            score = f"{r['test_acc_mean']:.4f} +/- {r['test_acc_sd']:.4f}"
        lines.append(f"{r['label']:>22}  x{r['target_ratio']:<6.3g}  x{r['flops_ratio']:<7.3f}  {r['depth_mult']:>5.2f}  "
                     f"{r['width_mult']:>5.2f}  {int(r['resolution']):>4}  {r['params'] / 1e3:>7.1f}k  {score:>17}  "
                     f"{int(r['seeds_done']):>5}")
    return "\n".join(lines)
