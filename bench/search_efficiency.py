"""Search efficiency: hypervolume against trained candidates, samplers replayed on a trained table.

Step 1 (``bench.table``, cached): 150 uniformly random genotypes of the mobile space trained once
on mnist5k for 1 epoch (BN recalibrated, as the search does).
Step 2: replay each search variant (5 seeds) against the table, as the search runs it: a
proposal's genotype is decoded by the space, a duplicate of an earlier candidate is told that
candidate's values without training (the search records it as a reused trial), ``--seed-archs``
enqueues the space's reference architectures first. The x axis counts trained candidates, the
cost that matters. A genotype in the table gets its measured accuracy;
one outside it (nearly all of them: the space has 10.6M architectures) gets the mean accuracy of
its 3 nearest table genotypes by Hamming distance over the per-stage choices, a kNN surrogate in
the spirit of surrogate NAS benchmarks; the reference architectures are trained and added to the
table so that seeding is scored on measured values. FLOPs are always exact (analytic).
Hypervolume uses a fixed reference point: (lowest table accuracy, 1.1 x largest table FLOPs).
Reported: mean hypervolume by trial count, and the trials each variant needs to reach random
search's mean hypervolume at 100 trials (goal: at most 35).

    python -m bench.search_efficiency
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import optuna
import pandas as pd

from bench import table
from bench.common import quick, save
from bench.pool import parallel_map
from nas.model.cost import estimate_cost
from nas.arch.genotype import Genotype
from nas.report.results import front_hypervolume
from nas.study.sampling.samplers import make_sampler
from nas.arch.space_file import load_space

TABLE_EPOCHS = 1.0


@dataclass(frozen=True)
class Variant:
    """One way of running the search: sampler, parameter encoding, FLOPs objective, seeding."""
    name: str
    sampler: str
    ordinal: bool = True  # numeric choices as ordinal indexes (the search's encoding)
    log_flops: bool = True  # tell log10(FLOPs) (the search's objective)
    seeded: bool = False  # --seed-archs
    trials: int = 45  # enough to see whether the goal (35) is met


# Ordered as an ablation: each guided line changes one thing from the line above it.
VARIANTS = (
    Variant("random", "random", trials=100),
    Variant("random+seed", "random", seeded=True, trials=100),
    Variant("nsga2", "nsga2"),
    Variant("tpe v1 (categorical, FLOPs)", "tpe", ordinal=False, log_flops=False),
    Variant("tpe + ordinal", "tpe", log_flops=False),
    Variant("tpe + ordinal + log FLOPs", "tpe"),
    Variant("gp v1 (categorical, FLOPs)", "gp", ordinal=False, log_flops=False),
    Variant("gp + ordinal", "gp", log_flops=False),
    Variant("gp + ordinal + log FLOPs (default)", "gp"),
    Variant("gp default + seed", "gp", seeded=True),
)


def choice_vector(g: Genotype) -> tuple:
    return tuple((s.cell, s.kernel, s.expansion, s.se_ratio, s.repeats, s.channels) for s in g.stages)


class Surrogate:
    """Measured accuracy for table genotypes; mean of the 3 nearest (Hamming) for the others."""

    def __init__(self, rows: list[dict]) -> None:
        self.genotypes = [Genotype.from_json(r["genotype"]) for r in rows]
        self.vectors = np.array([[hash(c) for stage in choice_vector(g) for c in stage] for g in self.genotypes])
        self.acc = np.array([r["acc"] for r in rows])
        self.index = {g.key(): i for i, g in enumerate(self.genotypes)}

    def accuracy(self, g: Genotype) -> tuple[float, bool]:
        if g.key() in self.index:
            return float(self.acc[self.index[g.key()]]), True
        v = np.array([hash(c) for stage in choice_vector(g) for c in stage])
        dist = (self.vectors != v).sum(1)
        nearest = np.argsort(dist, kind="stable")[:3]
        return float(self.acc[nearest].mean()), False


def replay(variant: Variant, seed: int, surrogate: Surrogate, ref: tuple[float, float]) -> dict:
    """Hypervolume after each trained candidate, as the search would run this variant."""
    space = load_space(table.SPACE)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(variant.sampler, seed, 2))
    if variant.seeded:
        for g in space.reference_genotypes(1, 10):
            study.enqueue_trial(space.params_for(g, "index" if variant.ordinal else "categorical"))
    known: dict[str, list[float]] = {}
    acc, flops, curve = [], [], []
    hits = duplicates = asks = 0
    while len(curve) < variant.trials and asks < 20 * variant.trials:
        trial = study.ask()
        asks += 1
        g = space.sample(trial, 1, 10, "index" if variant.ordinal else "categorical")
        if g.key() in known:  # free: told the known values, not counted
            duplicates += 1
            study.tell(trial, known[g.key()])
            continue
        a, hit = surrogate.accuracy(g)
        hits += hit
        f = float(estimate_cost(g).flops)
        known[g.key()] = [a, math.log10(f) if variant.log_flops else f]
        study.tell(trial, known[g.key()])
        acc.append(a)
        flops.append(f)
        curve.append(front_hypervolume(np.array(acc), np.array(flops), ref))
    return {"curve": curve, "table_hits": hits, "duplicates": duplicates}


_surrogate: tuple[Surrogate, tuple[float, float]] | None = None


def _replay_job(job: tuple[Variant, int, list[dict], tuple[float, float]]) -> dict:
    """One (variant, seed) replay in a worker process (the surrogate is built once per process)."""
    global _surrogate
    variant, seed, rows, ref = job
    if _surrogate is None:
        _surrogate = (Surrogate(rows), ref)
    return replay(variant, seed, *_surrogate)


def main() -> None:
    n_table = 40 if quick() else 150
    seeds = 2 if quick() else 5
    genotypes = table.random_genotypes(n_table)
    refs = load_space(table.SPACE).reference_genotypes(1, 10)
    rows = table.results(genotypes + refs, (TABLE_EPOCHS,))[TABLE_EPOCHS]
    random_rows = rows[:n_table]
    surrogate = Surrogate(rows)
    ref = (min(r["acc"] for r in random_rows), 1.1 * max(estimate_cost(g).flops for g in genotypes))
    variants = [replace(v, trials=min(v.trials, 30 if v.sampler == "random" else 20)) for v in VARIANTS] \
        if quick() else list(VARIANTS)
    start = time.perf_counter()
    jobs = [(v, seed, rows, ref) for v in variants for seed in range(seeds)]
    runs = iter(parallel_map(_replay_job, jobs))
    curves: dict[str, np.ndarray] = {}
    stats: dict[str, dict[str, float]] = {}
    for v in variants:
        mine = [next(runs) for _ in range(seeds)]
        curves[v.name] = np.mean([r["curve"] for r in mine], axis=0)
        stats[v.name] = {"table_hits_per_run": float(np.mean([r["table_hits"] for r in mine])),
                         "duplicates_per_run": float(np.mean([r["duplicates"] for r in mine]))}
    print(f"replays: {len(jobs)} runs in {time.perf_counter() - start:.0f} s", flush=True)
    target = curves["random"][-1]
    needed: dict[str, int | None] = {}
    for name, c in curves.items():
        needed[name] = int(np.argmax(c >= target)) + 1 if (c >= target).any() else None
        marks = "  ".join(f"HV@{m} {c[m - 1]:.4g}" for m in (10, 25, 35, 50, 100) if m <= len(c))
        print(f"{name:36s} {marks}  trials to reach random's HV@{len(curves['random'])}: "
              f"{needed[name] or f'>{len(c)}'}  (free duplicates {stats[name]['duplicates_per_run']:.1f}/run, "
              f"table hits {stats[name]['table_hits_per_run']:.1f}/run)", flush=True)
    frame = pd.DataFrame({k: pd.Series(v, index=range(1, len(v) + 1)) for k, v in curves.items()})
    save("search_efficiency", {"table_size": n_table, "table_epochs": TABLE_EPOCHS, "seeds": seeds,
                               "trials": {k: len(v) for k, v in curves.items()}, "reference": ref,
                               "random_hv_at_end": float(target),
                               "trials_to_reach_random_at_end": needed, "stats": stats,
                               "mean_hv_curve": {k: [None if np.isnan(x) else float(x) for x in frame[k]]
                                                 for k in frame},
                               "variants": [asdict(v) for v in variants],
                               "goal": f"<= 35 trials to reach random search's HV at {len(curves['random'])}",
                               "command": "python -m bench.search_efficiency"})


if __name__ == "__main__":
    main()
