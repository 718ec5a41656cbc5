"""Search efficiency: hypervolume against trials for each sampler, replayed on a trained table.

Step 1 (cached in results/bench/table.json): train a fixed random sample of genotypes of the
mobile space on mnist5k once, 1 epoch each.
Step 2: replay each sampler (random, tpe, nsga2, gp; 5 seeds, 100 trials) against the table.
A proposed genotype in the table gets its measured accuracy; one outside it gets the mean
accuracy of its 3 nearest table genotypes (Hamming distance over the per-stage choices), a
kNN surrogate in the spirit of surrogate NAS benchmarks. FLOPs are always exact (analytic).
Hypervolume uses a fixed reference point: (lowest table accuracy, 1.1 x largest table FLOPs).
Reported: mean hypervolume by trial count, and the trials each sampler needs to reach random
search's mean hypervolume at 100 trials (goal: at most 35).

    python -m bench.search_efficiency
"""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd

from bench.common import OUT, quick, save
from nas.cost import estimate_cost
from nas.data import load_dataset
from nas.genotype import Genotype
from nas.results import non_dominated
from nas.search import make_sampler
from nas.space import load_space
from nas.train import TrainConfig, train_candidate

SAMPLERS = ("random", "tpe", "nsga2", "gp")


def choice_vector(g: Genotype) -> tuple:
    return tuple((s.cell, s.kernel, s.expansion, s.se_ratio, s.repeats, s.channels) for s in g.stages)


def build_table(n: int) -> list[dict]:
    path = OUT / f"table_{n}.json"
    if path.exists():
        return json.loads(path.read_text())
    data = load_dataset("mnist5k")
    space = load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    seen, rows = set(), []
    while len(rows) < n:
        t = study.ask()
        g = space.sample(t, data.in_channels, data.num_classes)
        study.tell(t, 0.0)
        if g.key() in seen:
            continue
        seen.add(g.key())
        r = train_candidate(g, data, TrainConfig(epochs=1), "cpu")
        rows.append({"genotype": g.to_json(indent=None), "accuracy": r.val_accuracy, "flops": estimate_cost(g).flops})
        if len(rows) % 25 == 0:
            print(f"table: {len(rows)}/{n} trained", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return rows


class Surrogate:
    def __init__(self, table: list[dict]) -> None:
        self.genotypes = [Genotype.from_json(r["genotype"]) for r in table]
        self.vectors = [choice_vector(g) for g in self.genotypes]
        self.acc = np.array([r["accuracy"] for r in table])
        self.index = {g.key(): i for i, g in enumerate(self.genotypes)}

    def accuracy(self, g: Genotype) -> tuple[float, bool]:
        if g.key() in self.index:
            return float(self.acc[self.index[g.key()]]), True
        v = choice_vector(g)
        dist = np.array([sum(a != b for sa, sb in zip(v, w) for a, b in zip(sa, sb)) for w in self.vectors])
        nearest = np.argsort(dist, kind="stable")[:3]
        return float(self.acc[nearest].mean()), False


def hv(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    if not points:
        return 0.0
    acc = np.array([p[0] for p in points])
    flops = np.array([p[1] for p in points])
    mask = non_dominated(acc, flops)
    front = sorted((f, a) for f, a, m in zip(flops, acc, mask) if m and f < ref[1] and a > ref[0])
    area = 0.0
    for i, (f, a) in enumerate(front):
        nxt = front[i + 1][0] if i + 1 < len(front) else ref[1]
        area += (a - ref[0]) * (nxt - f)
    return area


def replay(sampler: str, seed: int, n_trials: int, surrogate: Surrogate, ref) -> tuple[list[float], float]:
    space = load_space("mobile")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(sampler, seed, 2))
    points, curve, in_table = [], [], 0
    for _ in range(n_trials):
        trial = study.ask()
        g = space.sample(trial, 1, 10)
        acc, hit = surrogate.accuracy(g)
        in_table += hit
        flops = estimate_cost(g).flops
        study.tell(trial, [acc, flops])
        points.append((acc, flops))
        curve.append(hv(points, ref))
    return curve, in_table / n_trials


def main() -> None:
    n_table = 40 if quick() else 150
    seeds = 2 if quick() else 5
    n_trials = 30 if quick() else 100
    table = build_table(n_table)
    surrogate = Surrogate(table)
    ref = (min(r["accuracy"] for r in table), 1.1 * max(r["flops"] for r in table))
    curves, hit_rates = {}, {}
    for s in SAMPLERS:
        runs = [replay(s, seed, n_trials, surrogate, ref) for seed in range(seeds)]
        curves[s] = np.mean([c for c, _ in runs], axis=0)
        hit_rates[s] = float(np.mean([h for _, h in runs]))
        print(f"{s:7s}: HV@25 {curves[s][min(24, n_trials - 1)]:.4g}  HV@50 {curves[s][min(49, n_trials - 1)]:.4g}  "
              f"HV@{n_trials} {curves[s][-1]:.4g}  (proposals found in the table: {100 * hit_rates[s]:.0f}%)", flush=True)
    target = curves["random"][-1]
    needed = {s: (int(np.argmax(curves[s] >= target)) + 1 if (curves[s] >= target).any() else None)
              for s in SAMPLERS}
    for s in SAMPLERS:
        print(f"trials for {s} to reach random search's HV at {n_trials} trials: {needed[s] or f'not within {n_trials}'}")
    frame = pd.DataFrame({s: curves[s] for s in SAMPLERS})
    frame.index = range(1, n_trials + 1)
    save("search_efficiency", {"table_size": n_table, "table_epochs": 1, "seeds": seeds, "trials": n_trials,
                               "reference": ref, "trials_to_reach_random_at_end": needed,
                               "table_hit_rate": hit_rates,
                               "mean_hv_curve": {s: [float(v) for v in curves[s]] for s in SAMPLERS},
                               "goal": "<= 35 trials to reach random search's HV at 100",
                               "command": "python -m bench.search_efficiency"})


if __name__ == "__main__":
    main()
