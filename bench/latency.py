"""Measured latency against FLOPs (issue 15's benchmark): repeatability, cost, and how far FLOPs
rank networks as latency does on this CPU.

1. Repeatability: every shipped space's reference architectures measured in two separate
   processes, one after the other (torch-cpu and onnxruntime, batch 1, 1 thread); the figure is
   the median relative difference (goal: within 5%).
2. Cost: seconds per measurement, against a default demo trial's time in the trainer.
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
from nas.study.pareto import non_dominated

SPACES = ("mobile", "mixed", "efficientnetv2", "resnet")
RUNTIMES = ("torch-cpu", "onnxruntime")
DEMO_TRIAL_S = 0.70  # a demo trial's time in the trainer, BENCHMARKS.md §2 (bench.overhead)


def _measure(job: tuple[str, str]) -> tuple[float, float]:
    """(latency ms, seconds the measurement took) for one (genotype JSON, runtime)."""
    genotype, runtime = job
    start = time.perf_counter()
    latency = measure_latency(Genotype.from_json(genotype), LatencySettings(runtime=runtime))
    return latency.ms, time.perf_counter() - start


def references() -> list[Genotype]:
    return [g for name in SPACES for g in load_space(name).reference_genotypes(1, 10)]


def measure_all(genotypes: list[Genotype], runtime: str) -> list[tuple[float, float]]:
    """In one fresh process, one measurement at a time (two at once would share the cores)."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_measure, [(g.to_json(indent=None), runtime) for g in genotypes]))


def main() -> None:
    n = 12 if quick() else 100
    refs = references()
    out: dict[str, object] = {"command": "python -m bench.latency", "settings": str(LatencySettings())}
    repeat: dict[str, dict[str, float]] = {}
    for runtime in RUNTIMES:
        first = [ms for ms, _ in measure_all(refs, runtime)]
        second = [ms for ms, _ in measure_all(refs, runtime)]  # a second, separate process
        diffs = [abs(a - b) / ((a + b) / 2) for a, b in zip(first, second)]
        repeat[runtime] = {"median_relative_difference": statistics.median(diffs), "max": max(diffs),
                           "references": len(refs)}
        print(f"[repeatability, {runtime}] {len(refs)} references, two processes: median difference "
              f"{100 * statistics.median(diffs):.1f}% (max {100 * max(diffs):.1f}%; goal within 5%)", flush=True)
    out["repeatability"] = repeat
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
        print(f"[cost, {r}] {c['median']:.3f} s per measurement = {100 * c['fraction_of_demo_trial']:.0f}% "
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
