"""The benchmark table: random genotypes of the mobile space, trained once on mnist5k, cached.

One seeded random sample (de-duplicated) serves three benchmarks: ``search_efficiency`` replays
samplers against the 1-epoch accuracies of the first 150, ``ranking_fidelity`` trains the first
30 also for 2, 4 and 10 epochs, and ``defaults`` reuses those. Every (genotype, epochs) result is cached in
``results/bench/table.json`` as soon as it finishes, so an interrupted run resumes and the two
benchmarks never train the same thing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import optuna

from bench.common import OUT
from bench.pool import Job, run_jobs
from nas.arch.genotype import Genotype
from nas.arch.space_file import load_space

SPACE = "mobile"
DATASET = "mnist5k"
SAMPLE_SEED = 7
PATH = OUT / "table.json"


def random_genotypes(n: int, space_name: str = SPACE) -> list[Genotype]:
    """The first ``n`` distinct genotypes of a seeded uniform sample of the space (1 channel, 10
    classes: mnist5k's and the harder task's)."""
    space = load_space(space_name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SAMPLE_SEED))
    seen: set[str] = set()
    out: list[Genotype] = []
    while len(out) < n:
        trial = study.ask()
        g = space.sample(trial, 1, 10, "index")  # the encoding these pools were drawn with (v3): the same genotypes
        study.tell(trial, 0.0)
        if g.key() not in seen:
            seen.add(g.key())
            out.append(g)
    return out


def cache_key(arch: str, epochs: float, seed: int, dataset: str = DATASET) -> str:
    base = f"{arch}|{epochs:g}|{seed}"
    return base if dataset == DATASET else f"{dataset}|{base}"  # mnist5k keys predate the dataset


def load_cache() -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in json.loads(PATH.read_text())} if PATH.exists() else {}


def results(genotypes: list[Genotype], budgets: Sequence[float], seed: int = 0,
            dataset: str = DATASET) -> dict[float, list[dict[str, Any]]]:
    """For each budget (epochs), one result per genotype in order: from the cache, or trained now
    (all missing jobs in one pool, longest first, so that the processes finish together)."""
    cache = load_cache()
    missing = [Job(g.to_json(indent=None), epochs, seed, dataset)
               for epochs in sorted(budgets, reverse=True) for g in genotypes
               if cache_key(g.arch, epochs, seed, dataset) not in cache]
    if missing:
        print(f"table: {len(missing)} trainings to run "
              f"({len(genotypes) * len(budgets) - len(missing)} cached)", flush=True)
        done = [0]

        def store(row: dict[str, Any]) -> None:
            key = cache_key(Genotype.from_json(row["genotype"]).arch, row["epochs"], row["seed"], row["dataset"])
            cache[key] = {"key": key, **row}
            PATH.parent.mkdir(parents=True, exist_ok=True)
            PATH.write_text(json.dumps(list(cache.values())))
            done[0] += 1
            if done[0] % 25 == 0 or done[0] == len(missing):
                print(f"table: {done[0]}/{len(missing)} trained", flush=True)

        run_jobs(missing, on_done=store)
    return {epochs: [cache[cache_key(g.arch, epochs, seed, dataset)] for g in genotypes] for epochs in budgets}
