"""What a calibration study says: per signal and budget, how it ranks the architectures against
long training, what it costs, and which one a search should optimise.

For each signal (nas.train.signals) at each brief budget: Kendall's tau-b against the mean
validation accuracy of the target runs (a lower-is-better signal negated first, so that +1 always
means "ranks as long training does"), a 95% bootstrap interval over the architectures, the partial
tau with log FLOPs held fixed (a signal that only measures the network's size scores ~0 there),
and the compute per candidate (the brief run's training seconds and epochs; for a signal at
initialisation, the zero-cost computation alone). Two baselines sit beside them: log FLOPs and
the parameter count (what the search's second objective already knows), and the ceiling: the
target's seeds against each other.

The recommendation: the cheapest (signal, budget) whose tau is within ``margin`` of the best
signal's. It is recorded on the calibration study (``CalibrationRecord``), where
``search --signal auto`` finds it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from ..study.store.records import TrialRecord
from ..train.signals import SIGNALS

BOOTSTRAP = 1000


@dataclass(frozen=True)
class CalibrationRecord:
    """The recommendation stored on a calibration study (user attribute ``calibration``)."""

    signal: str
    budget_epochs: float  # 0 for a signal at initialisation
    tau: float
    best_signal: str
    best_budget_epochs: float
    best_tau: float
    margin: float
    ceiling: float  # the target's seeds against each other
    flops_tau: float  # what log FLOPs alone gives
    architectures: int

    def to_attrs(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_study(cls, study: optuna.Study) -> "CalibrationRecord | None":
        stored = study.user_attrs.get("calibration")
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__}) if stored else None


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b (ties in either ranking counted as neither concordant nor discordant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    pairs_x, pairs_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if pairs_x == 0 or pairs_y == 0:
        return float("nan")
    return float((dx * dy).sum() / math.sqrt(pairs_x * pairs_y))


def partial_tau(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Kendall's partial tau of x and y with z held fixed: (t_xy - t_xz t_yz) / sqrt((1 - t_xz^2)(1 - t_yz^2))."""
    txy, txz, tyz = kendall_tau(x, y), kendall_tau(x, z), kendall_tau(y, z)
    denominator = math.sqrt(max(0.0, (1 - txz ** 2) * (1 - tyz ** 2)))
    return float("nan") if denominator == 0 else (txy - txz * tyz) / denominator


def bootstrap_interval(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of tau over architectures drawn with replacement."""
    rng = np.random.default_rng(seed)
    n = len(x)
    taus = [kendall_tau(x[idx], y[idx]) for idx in (rng.integers(0, n, n) for _ in range(BOOTSTRAP))]
    taus = [t for t in taus if not math.isnan(t)]
    return (float(np.percentile(taus, 2.5)), float(np.percentile(taus, 97.5))) if taus else (math.nan, math.nan)


def runs_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per finished calibration run: the architecture, budget, seed, seconds and signals."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        r = TrialRecord.from_trial(t)
        if r.key is None or r.budget_epochs is None or r.signals is None:
            continue
        rows.append({"key": r.key, "label": r.label, "flops": r.flops, "params": r.params,
                     "budget": r.budget_epochs, "seed": r.seed, "train_time": r.train_time,
                     "zero_cost_seconds": r.signals.zero_cost_seconds,
                     **{name: r.signals.value(name) for name in SIGNALS}})
    return pd.DataFrame(rows)


def signal_table(runs: pd.DataFrame, target_epochs: float) -> tuple[pd.DataFrame, float]:
    """Every (signal, budget) row of the module's table, and the ceiling."""
    targets = runs[runs["budget"] == target_epochs].pivot_table(index="key", columns="seed", values="val_accuracy")
    targets = targets.dropna()
    reference = targets.mean(axis=1)
    seeds = list(targets.columns)
    ceiling = kendall_tau(targets[seeds[0]].to_numpy(), targets[seeds[1]].to_numpy()) if len(seeds) > 1 else math.nan
    keys = reference.index
    arch = runs.drop_duplicates("key").set_index("key").loc[keys]
    log_flops = np.log10(arch["flops"].astype(float).to_numpy())
    y = reference.to_numpy()
    rows = [_row("log10_flops", 0.0, log_flops, y, log_flops, 0.0, baseline=True),
            _row("params", 0.0, arch["params"].astype(float).to_numpy(), y, log_flops, 0.0, baseline=True)]
    brief = runs[(runs["budget"] != target_epochs) & (runs["seed"] == 0)]
    zero_cost = brief.dropna(subset=["zero_cost_seconds"]).drop_duplicates("key").set_index("key")
    for name, kind in SIGNALS.items():
        if kind.at_init:
            values = zero_cost.reindex(keys)[name]
            seconds = float(zero_cost["zero_cost_seconds"].mean()) if len(zero_cost) else math.nan
            rows.append(_row(name, 0.0, values.to_numpy(float), y, log_flops, seconds, kind.higher_is_better))
            continue
        for budget, group in brief.groupby("budget"):
            at = group.drop_duplicates("key").set_index("key").reindex(keys)
            rows.append(_row(name, float(budget), at[name].to_numpy(float), y, log_flops,
                             float(at["train_time"].mean()), kind.higher_is_better))
    return pd.DataFrame(rows), ceiling


def _row(signal: str, budget: float, values: np.ndarray, target: np.ndarray, log_flops: np.ndarray,
         seconds: float, higher_is_better: bool = True, baseline: bool = False) -> dict[str, object]:
    ok = ~np.isnan(values)
    v = values[ok] if higher_is_better else -values[ok]
    y, z = target[ok], log_flops[ok]
    low, high = bootstrap_interval(v, y) if ok.sum() > 2 else (math.nan, math.nan)
    return {"signal": signal, "budget_epochs": budget, "tau": kendall_tau(v, y) if ok.sum() > 2 else math.nan,
            "tau_low": low, "tau_high": high,
            "partial_tau_given_flops": math.nan if baseline else partial_tau(v, y, z),
            "seconds_per_candidate": seconds, "architectures": int(ok.sum()), "baseline": baseline}


def recommend(table: pd.DataFrame, margin: float, ceiling: float) -> CalibrationRecord:
    """The cheapest signal within ``margin`` of the best tau (baselines excluded)."""
    signals = table[~table["baseline"] & table["tau"].notna()]
    best = signals.sort_values("tau", ascending=False).iloc[0]
    near = signals[signals["tau"] >= best["tau"] - margin]
    pick = near.sort_values(["seconds_per_candidate", "tau"], ascending=[True, False]).iloc[0]
    flops = table[table["signal"] == "log10_flops"].iloc[0]
    return CalibrationRecord(str(pick["signal"]), float(pick["budget_epochs"]), float(pick["tau"]),
                             str(best["signal"]), float(best["budget_epochs"]), float(best["tau"]), margin,
                             float(ceiling), float(flops["tau"]), int(pick["architectures"]))


def format_table(table: pd.DataFrame, ceiling: float, chosen: CalibrationRecord, target_epochs: float) -> str:
    lines = [f"Kendall tau against the mean validation accuracy after {target_epochs:g} epochs "
             f"({chosen.architectures} architectures; 95% bootstrap interval; partial tau with log10 FLOPs "
             f"held fixed; seconds of training per candidate on this machine):",
             f"{'signal':<14} {'budget':>6}  {'tau':>6}  {'interval':>15}  {'partial':>7}  {'s/cand.':>7}"]
    for _, r in table.sort_values(["baseline", "tau"], ascending=[False, False]).iterrows():
        budget = "init" if r["budget_epochs"] == 0 and not r["baseline"] else (
            "-" if r["baseline"] else f"{r['budget_epochs']:g} ep")
        partial = "-" if math.isnan(r["partial_tau_given_flops"]) else f"{r['partial_tau_given_flops']:+.2f}"
        seconds = "-" if r["baseline"] else f"{r['seconds_per_candidate']:.2f}"
        mark = "  <- recommended" if (r["signal"], r["budget_epochs"]) == (chosen.signal, chosen.budget_epochs) else ""
        lines.append(f"{r['signal']:<14} {budget:>6}  {r['tau']:>+6.2f}  [{r['tau_low']:+.2f}, {r['tau_high']:+.2f}]  "
                     f"{partial:>7}  {seconds:>7}{mark}")
    at = "at initialisation" if chosen.budget_epochs == 0 else f"after {chosen.budget_epochs:g} epochs"
    lines.append(f"ceiling (target seed 0 against seed 1): {ceiling:+.2f}; log10 FLOPs alone: {chosen.flops_tau:+.2f}")
    lines.append(f"recommended: {chosen.signal} {at} (tau {chosen.tau:+.2f}; the best, {chosen.best_signal}, "
                 f"{chosen.best_tau:+.2f}; the cheapest within {chosen.margin:g} of it). Search with it: "
                 f"--signal auto, or --signal {chosen.signal}"
                 + (f"@{chosen.budget_epochs:g}" if chosen.budget_epochs else ""))
    return "\n".join(lines)


def plot_taus(table: pd.DataFrame, ceiling: float, path: str, title: str = "") -> str:
    """tau against compute per candidate, one point per (signal, budget), with its interval."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    rows = table[~table["baseline"] & table["tau"].notna()]
    for _, r in rows.iterrows():
        seconds = max(float(r["seconds_per_candidate"]), 1e-3)
        ax.errorbar([seconds], [r["tau"]], yerr=[[r["tau"] - r["tau_low"]], [r["tau_high"] - r["tau"]]], fmt="o",
                    ms=4, alpha=0.8)
        label = r["signal"] + ("" if r["budget_epochs"] == 0 else f"@{r['budget_epochs']:g}")
        ax.annotate(label, (seconds, r["tau"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    flops = table[table["signal"] == "log10_flops"]["tau"].iloc[0]
    ax.axhline(flops, color="grey", ls="--", lw=1, label=f"log10 FLOPs alone ({flops:+.2f})")
    if not math.isnan(ceiling):
        ax.axhline(ceiling, color="black", ls=":", lw=1, label=f"ceiling: target seeds ({ceiling:+.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per candidate (training, or zero-cost computation)")
    ax.set_ylabel("Kendall tau against long training")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
