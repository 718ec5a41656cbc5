"""Measured latency against FLOPs (issue 15's benchmark): repeatability, cost, and how far FLOPs
rank networks as latency does on this CPU.

1. Repeatability: every shipped space's reference architectures and 15 random genotypes each of
   mobile and mixed, measured in two separate processes, one after the other (torch-cpu and
   onnxruntime, batch 1, 1 thread); the figure is the median relative difference (goal: within
   5%). The default timing settings and the first ones (``FIRST``) side by side, in this run.
2. Cost: seconds per measurement, against a default demo trial's time in the trainer, for both.
3. Kendall tau between fvcore FLOPs and measured latency over 100 random genotypes of each
   shipped space, per runtime.
4. Fronts: on the trained mobile and mixed tables (1-epoch accuracy, bench.table), the
   accuracy-latency front against the accuracy-FLOPs front of the same architectures.

    python -m bench.latency
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.stats import kendalltau

from bench import table
from bench.common import quick, save
from nas.arch.genotype import Genotype
from nas.arch.space_file import load_space
from nas.model.cost import estimate_cost
from nas.model.latency import LatencySettings, measure_latency
from nas.pareto import non_dominated

SPACES = ("mobile", "mixed", "efficientnetv2", "resnet")
RUNTIMES = ("torch-cpu", "onnxruntime")
DEMO_TRIAL_S = 0.70  # a demo trial's time in the trainer, BENCHMARKS.md §2 (bench.overhead)
# The first timing settings (5 passes and 0.05 s of warm-up, 2 ms samples in blocks of 10), the
# baseline the defaults were chosen against.
FIRST = {"warmup": 5, "warmup_s": 0.05, "sample_s": 0.002, "block": 10}
TIMINGS = {"default": {}, "first": FIRST}


def _measure(job: tuple[str, str, dict[str, float]]) -> tuple[float, float]:
    """(latency ms, seconds the measurement took) for one (genotype JSON, runtime, timing settings)."""
    genotype, runtime, timing = job
    start = time.perf_counter()
    latency = measure_latency(Genotype.from_json(genotype), LatencySettings(runtime=runtime, **timing))
    return latency.ms, time.perf_counter() - start


def references() -> list[Genotype]:
    return [g for name in SPACES for g in load_space(name).reference_genotypes(1, 10)]


def measure_all(genotypes: list[Genotype], runtime: str, timing: dict[str, float] | None = None
                ) -> list[tuple[float, float]]:
    """In one fresh process, one measurement at a time (two at once would share the cores)."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_measure, [(g.to_json(indent=None), runtime, timing or {}) for g in genotypes]))


def repeatability(genotypes: list[Genotype]) -> dict[str, dict[str, dict[str, float]]]:
    """Each runtime and timing: two separate processes' figures compared, and the cost of each."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    for runtime in RUNTIMES:
        result[runtime] = {}
        for name, timing in TIMINGS.items():
            first = measure_all(genotypes, runtime, timing)
            second = measure_all(genotypes, runtime, timing)  # a second, separate process
            diffs = sorted(abs(a - b) / ((a + b) / 2) for (a, _), (b, _) in zip(first, second))
            cost = statistics.median([s for _, s in first + second])
            result[runtime][name] = {"median_relative_difference": statistics.median(diffs),
                                     "p90": diffs[int(0.9 * len(diffs))], "max": diffs[-1],
                                     "genotypes": len(genotypes), "seconds_per_measurement": cost,
                                     "fraction_of_demo_trial": cost / DEMO_TRIAL_S}
            print(f"[repeatability, {runtime}, {name} timing] {len(genotypes)} genotypes, two processes: median "
                  f"difference {100 * statistics.median(diffs):.1f}% (p90 {100 * diffs[int(0.9 * len(diffs))]:.1f}%, "
                  f"max {100 * diffs[-1]:.1f}%; goal within 5%); {cost:.3f} s per measurement = "
                  f"{100 * cost / DEMO_TRIAL_S:.1f}% of a demo trial's {DEMO_TRIAL_S} s (goal under 5%)", flush=True)
    return result


def main() -> None:
    n = 12 if quick() else 100
    mixed = table.random_genotypes(3 if quick() else 15, "mobile") + table.random_genotypes(3 if quick() else 15, "mixed")
    out: dict[str, object] = {"command": "python -m bench.latency", "settings": str(LatencySettings()),
                              "first_settings": FIRST}
    out["repeatability"] = repeatability(references() + mixed)
    taus: dict[str, dict[str, float]] = {}
    cost: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    latencies: dict[str, dict[str, list[float]]] = {}
    for space in SPACES:
        genotypes = table.random_genotypes(n, space)
        flops = [estimate_cost(g).flops for g in genotypes]
        taus[space] = {}
        latencies[space] = {}
        for runtime in RUNTIMES:
            rows = measure_all(genotypes, runtime)
            ms = [r[0] for r in rows]
            cost[runtime] += [r[1] for r in rows]
            latencies[space][runtime] = ms
            taus[space][runtime] = float(kendalltau(flops, ms).statistic)
            print(f"[{space}, {runtime}] {n} random genotypes: Kendall tau(FLOPs, latency) "
                  f"{taus[space][runtime]:+.2f}; latency {min(ms):.2f}-{max(ms):.2f} ms", flush=True)
    out["kendall_tau_flops_latency"] = taus
    out["measurement_seconds"] = {r: {"median": statistics.median(c), "fraction_of_demo_trial":
                                      statistics.median(c) / DEMO_TRIAL_S} for r, c in cost.items()}
    for r, c in out["measurement_seconds"].items():
        print(f"[cost, {r}] {c['median']:.3f} s per measurement = {100 * c['fraction_of_demo_trial']:.1f}% "
              f"of a demo trial's {DEMO_TRIAL_S} s in the trainer (goal under 5%)", flush=True)
    out["fronts"] = fronts(latencies, n)
    save("latency", out)


def fronts(latencies: dict[str, dict[str, list[float]]], n: int) -> dict[str, dict[str, object]]:
    """Accuracy-latency front against accuracy-FLOPs front, on the trained 1-epoch tables."""
    result: dict[str, dict[str, object]] = {}
    for space in ("mobile", "mixed"):
        genotypes = table.random_genotypes(n, space)
        rows = table.results(genotypes, (1.0,))[1.0]  # cached by bench.sampler_choice
        acc = np.array([r["acc"] for r in rows])
        flops = np.array([estimate_cost(g).flops for g in genotypes], dtype=float)
        by_flops = set(np.flatnonzero(non_dominated(acc, flops)))
        for runtime in RUNTIMES:
            by_latency = set(np.flatnonzero(non_dominated(acc, np.array(latencies[space][runtime]))))
            jaccard = len(by_flops & by_latency) / len(by_flops | by_latency)
            result[f"{space}, {runtime}"] = {"front_by_flops": sorted(map(int, by_flops)),
                                             "front_by_latency": sorted(map(int, by_latency)), "jaccard": jaccard}
            print(f"[fronts, {space}, {runtime}] accuracy-FLOPs front {len(by_flops)} points, accuracy-latency "
                  f"front {len(by_latency)}, shared {len(by_flops & by_latency)} (Jaccard {jaccard:.2f})", flush=True)
    return result


if __name__ == "__main__":
    main()
