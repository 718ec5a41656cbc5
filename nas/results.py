"""A study as pandas DataFrames: every trial, and the accuracy-versus-FLOPs Pareto front.

Works on any storage this toolkit wrote, including a study still being searched (only finished
trials are read as results). FLOPs are fvcore's count (1 multiply-add = 1 flop, eval mode,
batch 1).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import optuna
import pandas as pd

ARCH_COLUMNS = ("cell", "kernel", "expansion", "se_ratio", "repeats", "channels", "activation")


def _arch_columns(genotype_json: str | None) -> dict[str, Any]:
    if not genotype_json:
        return {}
    g = json.loads(genotype_json)
    cols: dict[str, Any] = {"resolution": g.get("resolution")}
    for i, s in enumerate(g.get("stages", [])):
        for name in ARCH_COLUMNS:
            cols[f"s{i}_{name}"] = s.get(name)
    return cols


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, accuracy, FLOPs, params, timings, failure reason and
    each architectural choice as its own column (``s{i}_cell``, ``s{i}_kernel``, ...)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        feasible = all(v <= 0 for v in t.constraints.values()) if t.constraints else True
        rows.append({
            "number": t.number, "state": t.state.name,
            "accuracy": a.get("accuracy"), "flops": a.get("flops"), "params": a.get("params"),
            "objective": t.values[0] if t.values and len(t.values) == 1 else None,
            "feasible": feasible, "trained": bool(a.get("trained", False)),
            "reused_from": a.get("reused_from"), "reference": a.get("reference"),
            "train_time": a.get("train_time"), "images_per_sec": a.get("images_per_sec"),
            "epochs": a.get("epochs"), "device": a.get("device"),
            "fail_reason": a.get("fail_reason"), "arch": a.get("arch"), "key": a.get("key"),
            **_arch_columns(a.get("genotype")),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["number", "state", "accuracy", "flops", "params", "feasible"])
    return frame.set_index("number", drop=False).rename_axis(None)


def non_dominated(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats (accuracy >= and FLOPs <=, one strictly)."""
    order = np.lexsort((-acc, flops))  # by FLOPs ascending, then accuracy descending
    mask = np.zeros(len(acc), dtype=bool)
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


def pareto_frame(study_or_frame: optuna.Study | pd.DataFrame) -> pd.DataFrame:
    """Non-dominated, feasible, completed, trained (or reused) trials, sorted by FLOPs.

    Duplicate genotypes (reused results) appear once, under their first trial.
    """
    frame = trials_frame(study_or_frame) if isinstance(study_or_frame, optuna.Study) else study_or_frame
    if frame.empty:
        return frame
    ok = frame[(frame["state"] == "COMPLETE") & frame["feasible"] & frame["accuracy"].notna()]
    if "reused_from" in ok:
        ok = ok[ok["reused_from"].isna()]
    if ok.empty:
        return ok
    mask = non_dominated(ok["accuracy"].to_numpy(float), ok["flops"].to_numpy(float))
    return ok[mask].sort_values(["flops", "accuracy"], ascending=[True, False])


def format_front(front: pd.DataFrame) -> str:
    """The front as a small text table (FLOPs in fvcore's convention)."""
    if front.empty:
        return "Pareto front: empty (no completed feasible trials yet)"
    lines = [f"Pareto front ({len(front)} architectures; FLOPs = fvcore, 1 multiply-add = 1 flop, "
             f"eval mode, batch 1):",
             f"{'trial':>5}  {'val acc':>7}  {'FLOPs':>8}  {'params':>8}  arch"]
    for _, r in front.iterrows():
        arch = "/".join(str(r["arch"]).split("/")[1:-2])
        lines.append(f"{int(r['number']):>5}  {r['accuracy']:>7.4f}  {r['flops'] / 1e6:>7.2f}M  "
                     f"{r['params'] / 1e3:>7.1f}k  {arch}")
    return "\n".join(lines)
