"""Ranking fidelity of brief training: does a brief ranking predict a much longer one?

The first 60 genotypes of the benchmark table (uniform random sample of the mobile space, see
``bench.table``) are trained on the harder embedded task (``cluttered``; on mnist5k every
architecture ends near 98% and no ranking is informative, BENCHMARKS.md §4) for 1, 2 and 4
epochs, and for ``LONG`` = 20 epochs with two seeds. The two long rankings' agreement is the
ceiling no brief budget can beat; their mean is the reference. Each brief model is evaluated
twice from the same weights: with its stale BatchNorm statistics, and after recalibrating them
(what the search does). Reported: Kendall tau of every brief ranking against the reference, with
a 95% bootstrap interval over the genotypes, and the cheapest budget whose tau is not worse than
the best budget's at 95% (paired bootstrap): that sets the default brief budget.

    python -m bench.ranking_fidelity        # about 30 min on 2 cores; trainings cached and resumable
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from bench import table
from bench.common import quick, save

DATASET = "cluttered"
BUDGETS = (1.0, 2.0, 4.0)
LONG = 20.0  # 10x a 2-epoch budget, 20x a 1-epoch one
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
    n = 8 if quick() else 60
    long_epochs = 4.0 if quick() else LONG
    budgets = (1.0, 2.0) if quick() else BUDGETS
    genotypes = table.random_genotypes(n)
    res = table.results(genotypes, (*budgets, long_epochs), dataset=DATASET)
    second = table.results(genotypes, (long_epochs,), seed=1, dataset=DATASET)[long_epochs]
    long_a = np.array([r["acc"] for r in res[long_epochs]])
    long_b = np.array([r["acc"] for r in second])
    ceiling = float(kendalltau(long_a, long_b).statistic)
    long = (long_a + long_b) / 2  # the reference: the mean of the two long seeds
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
                          "tau_vs_one_long_seed": float(kendalltau(acc[b], long_a).statistic),
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
    print(f"{long_epochs:g}-epoch accuracies ({DATASET}): {long.min():.3f}-{long.max():.3f} "
          f"(interquartile {np.percentile(long, 25):.3f}-{np.percentile(long, 75):.3f}); "
          f"binomial s.e. of one accuracy on {n_val} images: ~{np.sqrt(long.mean() * (1 - long.mean()) / n_val):.3f}")
    print(f"the ceiling, two {long_epochs:g}-epoch seeds against each other: tau {ceiling:+.3f} (goal >= 0.85)")
    print(f"cheapest budget not worse than the best ({best:g} epochs) at 95%: {chosen:g} epoch(s) (goal: tau >= 0.7)")
    save("ranking_fidelity", {"dataset": DATASET, "genotypes": n, "long_epochs": long_epochs, "budgets": budgets,
                              "kendall_tau": taus, "recommended_epochs": chosen,
                              "long_vs_long_tau": ceiling,
                              "long_accuracy": {"min": float(long.min()), "max": float(long.max()),
                                                "seed0": [float(a) for a in long_a],
                                                "seed1": [float(a) for a in long_b]},
                              "archs": [g.arch for g in genotypes],
                              "goal": "tau >= 0.7 at the default budget where long-vs-long >= 0.85",
                              "command": "python -m bench.ranking_fidelity"})


if __name__ == "__main__":
    main()
