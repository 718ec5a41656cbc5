"""Ranking fidelity of brief training: does a brief ranking predict a 10x longer one?

The first 30 genotypes of the benchmark table (uniform random sample of the mobile space, see
``bench.table``) are trained on mnist5k for 1 (the default), 2 and 4 epochs and for 10x the
default (10 epochs). Each brief model is evaluated twice from the same weights: with its stale
BatchNorm running statistics, and after recalibrating them on 20 training batches (what the
search does). Reported: Kendall tau of every brief ranking against the 10x-longer ranking, with a
95% bootstrap interval over the genotypes, and the cheapest budget whose tau is not worse than
the best budget's at 95% (paired bootstrap): that sets the default.

    python -m bench.ranking_fidelity        # about 9 min on 2 cores; trainings cached and resumable
"""

from __future__ import annotations

import os

import numpy as np
from scipy.stats import kendalltau

from bench import table
from bench.common import quick, save
from nas.train.trainer import TrainConfig

BUDGETS = (1.0, 2.0, 4.0)
LONG = 10 * float(TrainConfig().epochs or 1.0)  # 10x the default brief budget
BOOTSTRAP = 500


def tau_interval(brief: np.ndarray, long: np.ndarray, best: np.ndarray, rng: np.random.Generator
                 ) -> tuple[float, float, float, float]:
    """tau, its 95% bootstrap interval over genotypes, and the 97.5th percentile of the paired
    difference tau(brief) - tau(best budget): below 0 means worse than the best, at 95%."""
    n = len(long)
    samples, diffs = [], []
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        t = kendalltau(brief[idx], long[idx]).statistic
        samples.append(t)
        diffs.append(t - kendalltau(best[idx], long[idx]).statistic)
    low, high = np.nanpercentile(samples, [2.5, 97.5])
    return float(kendalltau(brief, long).statistic), float(low), float(high), float(np.nanpercentile(diffs, 97.5))


def main() -> None:
    n = 8 if quick() else 30
    long_epochs = 4.0 if quick() else LONG
    budgets = (1.0, 2.0) if quick() else BUDGETS
    genotypes = table.random_genotypes(n)
    res = table.results(genotypes, (*budgets, long_epochs))
    long = np.array([r["acc"] for r in res[long_epochs]])
    acc = {b: np.array([r["acc"] for r in res[b]]) for b in budgets}
    point = {b: float(kendalltau(acc[b], long).statistic) for b in budgets}
    best = max(budgets, key=lambda b: point[b])
    rng = np.random.default_rng(0)
    taus: dict[str, dict[str, float]] = {}
    for b in budgets:
        rows = res[b]
        tau, low, high, diff_high = tau_interval(acc[b], long, acc[best], rng)
        stale = np.array([r["acc_stale_bn"] for r in rows])
        taus[f"{b:g}"] = {"tau": tau, "tau_low": low, "tau_high": high, "diff_to_best_high": diff_high,
                          "tau_stale_bn": float(kendalltau(stale, long).statistic),
                          "mean_acc": float(acc[b].mean()), "mean_acc_stale_bn": float(stale.mean()),
                          "mean_secs": float(np.mean([r["secs"] for r in rows]))}
        t = taus[f"{b:g}"]
        print(f"{b:g} epoch(s): tau {tau:+.3f} [{low:+.3f}, {high:+.3f}] with BN recalibration, "
              f"{t['tau_stale_bn']:+.3f} with stale BN statistics; mean accuracy {t['mean_acc']:.3f} "
              f"(stale {t['mean_acc_stale_bn']:.3f}); {t['mean_secs']:.1f} s per candidate", flush=True)
    # The cheapest budget whose tau is not worse than the best budget's at 95% (paired bootstrap).
    chosen = next(b for b in budgets if b == best or taus[f"{b:g}"]["diff_to_best_high"] >= 0)
    n_val = len(bytes.fromhex(res[long_epochs][0]["correct"]))
    print(f"{long_epochs:g}-epoch accuracies: {long.min():.3f}-{long.max():.3f} "
          f"(interquartile {np.percentile(long, 25):.3f}-{np.percentile(long, 75):.3f}); "
          f"binomial s.e. of one accuracy on {n_val} images: ~{np.sqrt(long.mean() * (1 - long.mean()) / n_val):.3f}")
    # The reference's own agreement: a ranking after 2x the long budget, when trained (slow:
    # BENCH_RANKING_CROSSCHECK=1) or already cached. A brief budget cannot agree with the long
    # ranking better than two long rankings agree with each other.
    check = 2 * long_epochs
    cached = table.load_cache()
    if os.environ.get("BENCH_RANKING_CROSSCHECK") == "1" or all(
            table.cache_key(g.arch, check, 0) in cached for g in genotypes):
        longer = np.array([r["acc"] for r in table.results(genotypes, (check,))[check]])
        reference_tau = float(kendalltau(long, longer).statistic)
        print(f"the reference's own agreement: tau({long_epochs:g} epochs, {check:g} epochs) = {reference_tau:+.3f}")
    else:
        reference_tau = None
    print(f"cheapest budget not worse than the best ({best:g} epochs) at 95%: {chosen:g} epoch(s) (goal: tau >= 0.7)")
    save("ranking_fidelity", {"genotypes": n, "long_epochs": long_epochs, "budgets": budgets,
                              "kendall_tau": taus, "recommended_epochs": chosen,
                              "reference_tau_vs_double": reference_tau,
                              "longuracy": {"min": float(long.min()), "max": float(long.max()),
                                                "values": [float(a) for a in long]},
                              "archs": [g.arch for g in genotypes],
                              "goal": "tau >= 0.7 at the default budget",
                              "command": "python -m bench.ranking_fidelity"})


if __name__ == "__main__":
    main()
