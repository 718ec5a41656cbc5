"""Issue 32's tabular benchmark of our own space: the ``mobile`` space on ``cluttered``.

A pool of uniformly random genotypes of the space (plus its references), each with every brief
signal a search can rank by (the zero-cost ones at initialisation, 1-epoch validation accuracy,
loss and training-loss sums: one seeded run on the search's split) and its long-trained held-out
test accuracy by retrain's recipe (train + validation for ``long`` epochs, scored on the test
split) for two seeds. Built once, resumably: every finished job is appended to
``results/bench/own_table.jsonl`` as it finishes, so a rerun trains only what is missing, and the
table is written as a small CSV, ``bench/tables/mobile_cluttered.csv`` (committed), that sampler
replays read in seconds, with no training.

    python -m bench.own_table [pool=300] [long=20] [seeds=2] [processes=2]
    python -m bench.own_table budget            # the long budget: tau between long and 2 x long
    python -m bench.own_table csv               # the CSV from what is cached, training nothing

The long budget is chosen by measurement (part ``budget``): on the first 24 genotypes, the
Kendall tau between the test accuracies after ``long`` and after twice as many epochs; a tau near
the seed-to-seed ceiling says that training longer would not reorder the table.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import optuna

from bench.common import OUT, ROOT, quick, save
from bench.pool import parallel_map
from nas.arch.genotype import Genotype
from nas.arch.space_file import load_space
from nas.model.cost import estimate_cost
from nas.train.config import DEFAULT_TEST_FRACTION, TrainConfig

SPACE, DATASET, SAMPLE_SEED = "mobile", "cluttered", 32
VAL_FRACTION, SPLIT_SEED = 0.2, 0  # the search's defaults: the split every search of the demo uses
CACHE = OUT / "own_table.jsonl"
CSV = ROOT / "bench" / "tables" / "mobile_cluttered.csv"


def pool(n: int) -> list[Genotype]:
    """The space's references, then ``n`` distinct uniform random genotypes (1 channel, 10 classes)."""
    space = load_space(SPACE)
    out = list(space.reference_genotypes(1, 10))
    seen = {g.key() for g in out}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SAMPLE_SEED))
    while len(out) < n + len(space.reference_archs):
        trial = study.ask()
        g = space.sample(trial, 1, 10, "index")
        study.tell(trial, 0.0)
        if g.key() not in seen:
            seen.add(g.key())
            out.append(g)
    return out


def job_key(job: tuple[str, str, float, int]) -> str:
    kind, genotype, epochs, seed = job
    return f"{kind}|{Genotype.from_json(genotype).key()}|{epochs:g}|{seed}"


_data: dict[str, Any] = {}


def run(job: tuple[str, str, float, int]) -> dict[str, Any]:
    """``brief``: one seeded 1-epoch run on the search's split, every signal; ``long``: retrain's
    recipe, train + validation for ``epochs``, the held-out test accuracy."""
    from nas.train.sources import load_dataset
    from nas.train.trainer import train_candidate

    kind, genotype, epochs, seed = job
    if kind not in _data:
        data = load_dataset(DATASET, VAL_FRACTION, SPLIT_SEED, test_fraction=DEFAULT_TEST_FRACTION,
                            with_test=kind == "long")
        _data[kind] = data.for_final_training() if kind == "long" else data
    g = Genotype.from_json(genotype)
    result = train_candidate(g, _data[kind], TrainConfig(epochs=epochs, seed=seed, zero_cost=kind == "brief"), "cpu")
    row: dict[str, Any] = {"key": job_key(job), "secs": result.total_time}
    if kind == "brief":
        row["signals"] = result.signals.to_dict() if result.signals is not None else {}
    else:
        row["test_accuracy"] = result.val_accuracy  # scored on the test split (for_final_training)
    return row


def load_cache(path: Path = CACHE) -> dict[str, dict[str, Any]]:
    """Every finished job; a last line cut short by a kill is skipped (its job runs again)."""
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[row["key"]] = row
    return rows


def build(genotypes: list[Genotype], long: float, seeds: int, processes: int) -> dict[str, dict[str, Any]]:
    cache = load_cache()
    jobs = [("brief", g.to_json(indent=None), 1.0, 0) for g in genotypes]
    jobs += [("long", g.to_json(indent=None), long, s) for s in range(seeds) for g in genotypes]
    missing = [j for j in jobs if job_key(j) not in cache]
    print(f"own table: {len(jobs) - len(missing)} of {len(jobs)} jobs cached; training {len(missing)}", flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    done = [0]

    def store(row: dict[str, Any]) -> None:
        with CACHE.open("a") as fh:  # a leading newline: a line cut short before stays on its own
            fh.write("\n" + json.dumps(row) + "\n")
        cache[row["key"]] = row
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == len(missing):
            print(f"own table: {done[0]}/{len(missing)} ({row['secs']:.1f} s the last)", flush=True)

    if missing:
        parallel_map(run, missing, processes=processes, on_done=store)
    return cache


def write_csv(genotypes: list[Genotype], cache: dict[str, dict[str, Any]], long: float, seeds: int) -> int:
    """The table, one row per genotype with its brief run and at least its first long seed (a
    later seed not trained yet is left empty: the replays say which seeds they used); returns
    how many rows."""
    signal_names = sorted({k for r in cache.values() for k in r.get("signals", {})})
    rows = []
    for g in genotypes:
        brief = cache.get(job_key(("brief", g.to_json(indent=None), 1.0, 0)))
        longs = [cache.get(job_key(("long", g.to_json(indent=None), long, s))) for s in range(seeds)]
        if brief is None or longs[0] is None:
            continue
        cost = estimate_cost(g)
        rows.append({"key": g.key(), "name": g.name, "arch": g.arch, "params": cost.params, "flops": cost.flops,
                     "brief_seconds": brief["secs"], **{f"brief_{k}": brief["signals"].get(k) for k in signal_names},
                     **{f"test_acc_e{long:g}_s{s}": (r["test_accuracy"] if r else None) for s, r in enumerate(longs)}})
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with CSV.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["key"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    given = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    n = 8 if quick() else int(given.get("pool", 300))
    long = 2.0 if quick() else float(given.get("long", 20))
    seeds = int(given.get("seeds", 2))
    processes = int(given.get("processes", 2))
    genotypes = pool(n)
    if "budget" in sys.argv[1:]:
        from scipy.stats import kendalltau

        subset = genotypes[:6 if quick() else 24]
        cache = build(subset, 2 * long, 1, processes)
        cache |= build(subset, long, 1, processes)
        pairs = [(cache[job_key(("long", g.to_json(indent=None), long, 0))]["test_accuracy"],
                  cache[job_key(("long", g.to_json(indent=None), 2 * long, 0))]["test_accuracy"]) for g in subset]
        tau = kendalltau(*zip(*pairs)).statistic
        print(f"tau between {long:g} and {2 * long:g} epochs on {len(subset)} genotypes: {tau:+.3f}")
        save("own_table_budget", {"long": long, "tau": tau, "pairs": pairs,
                                  "command": "python -m bench.own_table " + " ".join(sys.argv[1:])})
        return
    cache = load_cache() if "csv" in sys.argv[1:] else build(genotypes, long, seeds, processes)
    rows = write_csv(genotypes, cache, long, seeds)
    print(f"wrote {CSV} ({rows} of {len(genotypes)} genotypes complete)")


if __name__ == "__main__":
    main()
