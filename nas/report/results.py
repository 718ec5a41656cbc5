"""A study as pandas DataFrames: every trial, and the accuracy-versus-FLOPs Pareto front.

Works on any storage this toolkit wrote, including a study still being searched (only finished
trials are read as results). FLOPs are fvcore's count (1 multiply-add = 1 flop, eval mode,
batch 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd

from ..arch.fields import FIELD_NAMES, STAGE_FIELDS
from ..errors import UserError
from ..pareto import front_hypervolume, non_dominated  # noqa: F401 - public here too
from ..study.store.records import TrialRecord
from ..train.signals import SIGNALS
from ..study.store import storage as _storage

ARCH_COLUMNS = FIELD_NAMES  # s{i}_<field> columns: the same names as the sampled parameters


def load_study(study_name: str, storage: str | None = None) -> optuna.Study:
    """The study ``study_name`` as the command line finds it: in ``storage`` (an Optuna URL or
    ``journal:FILE``), else in ``results/<study>/journal.log`` (the default since journal files
    replaced SQLite, BENCHMARKS.md §2) or an older study's ``results/<study>/study.db``. A study
    that is not there is a :class:`~nas.errors.UserError` naming the studies that are."""
    return _storage.load_study(storage, study_name)  # the CLI's lookup, in the public argument order


def _arch_columns(genotype_json: str | None) -> dict[str, Any]:
    if not genotype_json:
        return {}
    g = json.loads(genotype_json)
    cols: dict[str, Any] = {"resolution": g.get("resolution")}
    for i, s in enumerate(g.get("stages", [])):
        for f in STAGE_FIELDS:
            cols[f.param(i)] = s.get(f.name, f.default[0] if f.default else None)  # newer fields: absent at default
    return cols


def _rung_columns(r: TrialRecord) -> dict[str, Any]:
    """Successive halving: the highest rung reached, the epochs trained, accuracy per rung."""
    if r.rung_accuracies is None:
        return {}
    return {"rung": r.rung, "top_rung": bool(r.top_rung), "trained_epochs": r.trained_epochs,
            "proposed_from_rung": r.proposed_from_rung, **{f"accuracy_e{k}": v for k, v in r.rung_accuracies.items()}}


def _signal_columns(r: TrialRecord) -> dict[str, Any]:
    """Every cheap signal of the brief run (nas.train.signals), as recorded; None where not."""
    return {name: r.signals.value(name) if r.signals is not None else None for name in SIGNALS} | {
        "zero_cost_seconds": r.signals.zero_cost_seconds if r.signals is not None else None}


def is_halving(frame: pd.DataFrame) -> bool:
    """True for a study searched with successive halving (its trials carry rungs)."""
    return "top_rung" in frame and bool(frame["top_rung"].notna().any())


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, accuracy, FLOPs, params, timings, failure reason and
    each architectural choice as its own column (``s{i}_cell``, ``s{i}_kernel``, ...)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        r = TrialRecord.from_trial(t)
        feasible = all(v <= 0 for v in t.constraints.values()) if t.constraints else True
        rows.append({
            "number": t.number, "state": t.state.name,
            "accuracy": r.accuracy, "flops": r.flops, "params": r.params, "latency_ms": r.latency_ms,
            "objective": t.values[0] if t.values and len(t.values) == 1 else None,
            "feasible": feasible, "trained": r.trained,
            "reused_from": r.reused_from, "reference": r.reference,
            "train_time": r.train_time, "images_per_sec": r.images_per_sec,
            "epochs": r.epochs, "device": r.device,
            "fail_reason": r.fail_reason, "arch": r.arch, "key": r.key,
            "score": r.score if r.score is not None else r.accuracy,
            **_signal_columns(r),
            **_rung_columns(r),
            **_arch_columns(r.genotype),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["number", "state", "accuracy", "score", "flops", "params", "feasible"])
    return frame.set_index("number", drop=False).rename_axis(None)


# What a front trades accuracy against (``pareto --by``): the trials frame's column for it.
COSTS = {"flops": "flops", "latency": "latency_ms"}


def study_cost(objectives: list[str]) -> str:
    """The cost a study's front is drawn against by default: its second objective's."""
    return "latency" if objectives[1:2] == ["log10_latency_ms"] else "flops"


def cost_column(by: str) -> str:
    if by not in COSTS:
        raise UserError(f"--by {by!r}: allowed: {', '.join(COSTS)}")
    return COSTS[by]


def pareto_frame(study_or_frame: optuna.Study | pd.DataFrame, by: str = "flops") -> pd.DataFrame:
    """Non-dominated, feasible, completed, trained (or reused) trials, sorted by FLOPs (or by
    measured latency, ``by="latency"``: among the trials that have one).

    Duplicate genotypes (reused results) appear once, under their first trial. In a study searched
    with successive halving only candidates trained to the top rung count: all at one budget, the
    longest (the others' accuracies are at shorter budgets, not comparable).
    """
    frame = trials_frame(study_or_frame) if isinstance(study_or_frame, optuna.Study) else study_or_frame
    if frame.empty:
        return frame
    ok = frame[(frame["state"] == "COMPLETE") & frame["feasible"] & frame["score"].notna()]
    if is_halving(frame):
        ok = ok[ok["top_rung"].fillna(False).astype(bool)]
    if "reused_from" in ok:
        ok = ok[ok["reused_from"].isna()]
    column = cost_column(by)
    ok = ok[ok[column].notna()] if column in ok else ok.iloc[:0]
    if ok.empty:
        return ok
    mask = non_dominated(ok["score"].to_numpy(float), ok[column].to_numpy(float))
    return ok[mask].sort_values([column, "score"], ascending=[True, False])


def has_latency(frame: pd.DataFrame) -> bool:
    return "latency_ms" in frame and frame["latency_ms"].notna().any()


def format_front(front: pd.DataFrame, by: str = "flops", latency_convention: str | None = None,
                 title: str | None = None, score: str | None = None) -> str:
    """The front (or, with a ``title``, other trials) as a small text table (FLOPs in fvcore's
    convention; latency, where measured, in the study's; ``score``: what the score column is,
    nas.train.signals.describe_signal)."""
    if front.empty:
        return (f"Pareto front{' by latency' if by == 'latency' else ''}: empty (no completed feasible "
                f"trials{' with a measured latency' if by == 'latency' else ''} yet)")
    budget = (f", top rung of successive halving: {front['epochs'].max():g} epochs" if is_halving(front)
              else "")
    latency = has_latency(front)
    scored = "score" in front and not front["score"].equals(front["accuracy"])  # ranked by another --signal
    heading = title or f"Pareto front{' by latency' if by == 'latency' else ''}"
    lines = [f"{heading} ({len(front)} architectures{budget}; FLOPs = fvcore, 1 multiply-add = 1 flop, "
             f"eval mode, batch 1" + (f"; latency = {latency_convention}" if latency and latency_convention else "")
             + (f"; score = {score or 'the signal searched'}, higher is better" if scored else "") + "):",
             f"{'trial':>5}  " + (f"{'score':>9}  " if scored else "") + f"{'val acc':>7}  {'FLOPs':>8}  {'params':>8}  "
             + ("latency  " if latency else "") + "arch"]
    for _, r in front.iterrows():
        arch = "/".join(str(r["arch"]).split("/")[1:-2])
        ms = (f"{r['latency_ms']:>5.3f}ms  " if pd.notna(r["latency_ms"]) else f"{'-':>7}  ") if latency else ""
        acc = f"{r['accuracy']:>7.4f}" if pd.notna(r["accuracy"]) else f"{'-':>7}"
        lines.append(f"{int(r['number']):>5}  " + (f"{r['score']:>9.4g}  " if scored else "") + f"{acc}  "
                     f"{r['flops'] / 1e6:>7.2f}M  {r['params'] / 1e3:>7.1f}k  {ms}{arch}")
    return "\n".join(lines)


# ----- front quality and picks ---------------------------------------------------------------------

def _frame(study_or_frame: optuna.Study | pd.DataFrame) -> pd.DataFrame:
    return trials_frame(study_or_frame) if isinstance(study_or_frame, optuna.Study) else study_or_frame


def default_reference(frame: pd.DataFrame, by: str = "flops") -> tuple[float, float]:
    """(score 0, or the lowest score where one is negative (a negated loss), 1.1 x the largest
    FLOPs, or latency, among completed feasible trials)."""
    column = cost_column(by)
    ok = frame[(frame["state"] == "COMPLETE") & frame["feasible"] & frame["score"].notna()]
    largest = ok[column].max() if column in ok else float("nan")
    lowest = min(0.0, float(ok["score"].min())) if not ok.empty else 0.0
    return lowest, float(largest) * 1.1 if pd.notna(largest) else 1.0


def hypervolume(study_or_frame: optuna.Study | pd.DataFrame,
                reference: tuple[float, float] | None = None, by: str = "flops") -> float:
    """Area of the (accuracy, FLOPs) region dominated by the front and bounded by ``reference``.

    ``reference = (accuracy_ref, flops_ref)``: the worst accuracy and the largest FLOPs that
    still count. Units are accuracy x FLOPs, so compare hypervolumes only at the same reference
    (the default, 0 and 1.1 x the largest FLOPs seen, changes with the study; pass a fixed one,
    e.g. ``(0.0, flops_max)``, to compare runs). Points beyond the reference add nothing.
    """
    front = pareto_frame(_frame(study_or_frame), by)
    if front.empty:
        return 0.0
    reference = reference if reference is not None else default_reference(_frame(study_or_frame), by)
    return front_hypervolume(front["score"].to_numpy(float), front[cost_column(by)].to_numpy(float), reference)


def hypervolume_history(study_or_frame: optuna.Study | pd.DataFrame,
                        reference: tuple[float, float] | None = None) -> pd.DataFrame:
    """Hypervolume of the first n trials (by number), n = 1..N: flat means converged."""
    frame = _frame(study_or_frame).sort_values("number")
    reference = reference if reference is not None else default_reference(frame)
    rows = [{"trials": n, "hypervolume": hypervolume(frame.iloc[:n], reference)}
            for n in range(1, len(frame) + 1)]
    return pd.DataFrame(rows, columns=["trials", "hypervolume"])


def choice_effects(study_or_frame: optuna.Study | pd.DataFrame) -> pd.DataFrame:
    """For every architectural choice (``s{i}_cell``, ``s{i}_kernel``, ... , ``resolution``) and each
    of its values: how many trained trials used it, their mean and spread of accuracy, their mean
    FLOPs. Descriptive, not causal: choices are correlated through the sampler."""
    frame = _frame(study_or_frame)
    ok = frame[(frame["state"] == "COMPLETE") & frame["accuracy"].notna()]
    if "reused_from" in ok:
        ok = ok[ok["reused_from"].isna()]
    choice_cols = [c for c in ok.columns
                   if c == "resolution" or any(c.endswith(f"_{n}") and c.startswith("s") for n in ARCH_COLUMNS)]
    rows = []
    for col in choice_cols:
        for value, group in ok.groupby(col, dropna=True):
            rows.append({"choice": col, "value": value, "count": len(group),
                         "acc_mean": group["accuracy"].mean(), "acc_std": group["accuracy"].std(ddof=0),
                         "acc_max": group["accuracy"].max(), "flops_mean": group["flops"].mean()})
    return pd.DataFrame(rows, columns=["choice", "value", "count", "acc_mean", "acc_std", "acc_max",
                                       "flops_mean"])


def knee(study_or_frame: optuna.Study | pd.DataFrame, by: str = "flops") -> pd.Series:
    """One defensible pick from the front: the point farthest from the straight line joining the
    front's two ends, with accuracy and log10(FLOPs) each scaled to [0, 1] over the front.

    That is where extra FLOPs stop buying proportionate accuracy. With fewer than three points on
    the front, the most accurate one is returned.
    """
    front = pareto_frame(_frame(study_or_frame), by)
    if front.empty:
        raise ValueError("the study has no completed feasible trials")
    if len(front) < 3:
        return front.sort_values("score").iloc[-1]
    x = np.log10(front[cost_column(by)].to_numpy(float))
    y = front["score"].to_numpy(float)
    x = (x - x.min()) / (np.ptp(x) or 1.0)
    y = (y - y.min()) / (np.ptp(y) or 1.0)
    # Distance to the chord from (x0, y0) to (x1, y1); above the chord is the useful side.
    x0, y0, x1, y1 = x[0], y[0], x[-1], y[-1]
    distance = ((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) / np.hypot(x1 - x0, y1 - y0)
    return front.iloc[int(np.argmax(distance))]


def front_basis(frame: pd.DataFrame) -> str | None:
    """What a front-based pick was chosen among, when that is not every trial (successive halving)."""
    if not is_halving(frame):
        return None
    top = frame[frame["top_rung"].fillna(False).astype(bool) & (frame["state"] == "COMPLETE")]
    return (f"chosen among the {len(top)} candidates trained to the top rung of successive halving "
            f"({top['epochs'].max():g} epochs)" if len(top) else "no candidate reached the top rung yet")


def resolve_trial(study: optuna.Study, spec: str | int,
                  say: Callable[[str], None] | None = None) -> optuna.trial.FrozenTrial:
    """A trial by number, ``best`` (most accurate on the front) or ``knee`` (see :func:`knee`).

    ``say`` (e.g. ``print``) is told what a ``best`` or ``knee`` pick was chosen among when that
    is not every trial. Raises a UserError naming what exists when the trial is missing, failed
    or untrained.
    """
    frame = trials_frame(study)
    text = str(spec)
    if text in ("best", "knee"):
        front = pareto_frame(frame)
        basis = front_basis(frame)
        if say is not None and basis is not None:
            say(f"{text}: {basis}")
        if front.empty:
            raise UserError(f"study {study.study_name!r} has no completed feasible trials to pick from")
        row = knee(front) if text == "knee" else front.sort_values("score").iloc[-1]
        number = int(row["number"])
    else:
        try:
            number = int(text)
        except ValueError:
            raise UserError(f"--arch {text!r}: give a trial number, 'best' or 'knee'") from None
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise UserError(f"trial {number} does not exist in study {study.study_name!r} "
                        f"(trials 0..{len(trials) - 1})")
    t = trials[number]
    r = TrialRecord.from_trial(t)
    if t.state.name != "COMPLETE" or r.genotype is None or r.over_budget:
        why = r.fail_reason or ("over budget" if r.over_budget else t.state.name)
        raise UserError(f"trial {number} of study {study.study_name!r} has no usable result ({why})")
    return t
