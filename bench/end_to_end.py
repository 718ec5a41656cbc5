"""Issue 32, part 5: does the tabular conclusion (§16: the default search above random search at
equal compute) hold on the real pipeline?

``REPEATS`` times (sampler seeds 0, 1, 2), the default search (``SearchConfig`` defaults: the
default sampler ranking by the default signal, NASWOT at initialisation) and random search with
the same signal run ``TRIALS`` trials each on ``cluttered`` (equal compute: every candidate costs
the same zero-cost pass; over-budget and repeated proposals are free in both). Each search's
reported front (by its own score and FLOPs) is thinned to at most ``MEMBERS`` architectures
evenly spread in log FLOPs (the same rule for both: retraining whole fronts of ~25 on 2 cores was
out of reach), and each kept member is trained with the own table's long recipe (retrain's:
train + validation, 20 epochs, seed 0) and scored on the held-out test split. The judge is the
one of §16: hypervolume of test accuracy against FLOPs at the own table's reference point (its
median test accuracy, 1.1 x its largest FLOPs), as a fraction of the whole 303-genotype pool's.

    python -m bench.end_to_end [repeats=3] [trials=100] [members=8] [processes=2] [pair=default,random]

``pair=sh,top`` confirms §16's halving result instead: ``search --fidelity sh`` with its
defaults (a NASWOT screen, the top 1/9 trained 9 epochs) ``trials`` trials, against single
fidelity at the same top budget (every candidate trained 9 epochs, ranked on validation
accuracy) given as many trials as the halving search of the same repeat spent epochs (its
trained epochs plus each screen's zero-cost pass, at the table's mean of 0.046 epochs): equal
compute. Fronts are the top-rung ones, judged the same way. ``pair=sh,sh-old`` sets it against
halving with the rungs it had before the screen (1 / 3 / 9 epochs, eta 3, no screen), given
about as many epochs (each search's epochs are printed).

Resumable: the searches are studies under ``results/`` and every training is cached in
``results/bench/end_to_end.jsonl`` (the own table's cache is read too: a front member that is in
the table is not trained again).
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import numpy as np

from bench.common import OUT, argument, save
from bench.own_table import job_key, load_cache, run
from bench.pool import parallel_map
from bench.replay import Pool
from nas.pareto import front_hypervolume

CACHE = OUT / "end_to_end.jsonl"
LONG = 20.0
TOP = 9.0  # halving's default top rung (nas.train.rungs.Rungs), and single fidelity's budget against it


def settings(method: str) -> dict[str, Any]:
    """The SearchConfig fields of each method beside the shared ones."""
    from nas.train.rungs import Rungs
    from nas.train.trainer import TrainConfig

    return {"default": {}, "random": {"sampler": "random"}, "sh": {"fidelity": Rungs()},
            "sh-old": {"fidelity": Rungs(1, 9, 3, screen=None)},  # the defaults before the screen
            "top": {"train": TrainConfig(epochs=TOP), "signal": "val_accuracy"}}[method]


def reported_front(job: tuple[str, int, int]) -> dict[str, Any]:
    """The front the search reports (run or resumed): (genotype JSON, FLOPs) of each member, and
    the epochs the search spent (trained epochs, and zero-cost passes at the table's mean)."""
    from nas.report.results import pareto_frame
    from nas.study.search import SearchConfig, run_search
    from nas.study.store.records import TrialRecord

    method, repeat, trials = job
    cfg = SearchConfig(space="mobile", dataset="cluttered", study=f"bench-e2e-{method}-r{repeat}-t{trials}",
                       trials=trials, seed=repeat, progress=False, write_files=False, **settings(method))
    study = run_search(cfg, out=io.StringIO())
    numbers = set(pareto_frame(study)["number"].astype(int))
    every = [TrialRecord.from_trial(t) for t in study.trials]
    spent = sum((r.trained_epochs or r.epochs or 0.0) if r.trained else ZERO_COST_EPOCHS
                for r in every if r.reused_from is None and not r.over_budget and r.flops)
    members = sorted({(r.genotype, float(r.flops)) for r, t in zip(every, study.trials)
                      if t.number in numbers and r.genotype and r.flops}, key=lambda m: m[1])
    return {"members": members, "epochs_spent": spent, "trials": trials}


# Epochs a candidate costs the second search of a pair, to give it the trials that match the
# halving search's epochs: single fidelity the top budget; the old rungs (1 / 3 / 9, eta 3, cool-
# downs 0.2) about 1 + (2 + 0.2) / 3 + (6 + 0.6) / 9 = 2.5 (each search's epochs are reported).
PER_CANDIDATE = {"top": TOP, "sh-old": 2.5}
ZERO_COST_EPOCHS = 0.046  # a NASWOT pass in epochs, the own table's mean (BENCHMARKS.md §16)


def thinned(front: list[tuple[str, float]], members: int) -> list[tuple[str, float]]:
    """At most ``members`` of ``front``, evenly spread in log FLOPs, both ends kept."""
    if len(front) <= members:
        return front
    logs = np.log10([f for _, f in front])
    targets = np.linspace(logs[0], logs[-1], members)
    picked = sorted({int(np.argmin(np.abs(logs - t))) for t in targets})
    return [front[i] for i in picked]


def trained(jobs: list[tuple[str, str, float, int]], processes: int) -> dict[str, float]:
    """Test accuracy of every job, training only what neither cache holds."""
    cache = {**load_cache(), **load_cache(CACHE)}
    missing = [j for j in dict.fromkeys(jobs) if job_key(j) not in cache]
    print(f"end to end: {len(jobs) - len(missing)} of {len(jobs)} trainings cached; training {len(missing)}", flush=True)

    def store(row: dict[str, Any]) -> None:
        with CACHE.open("a") as fh:
            fh.write("\n" + json.dumps(row) + "\n")
        cache[row["key"]] = row

    if missing:
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        parallel_map(run, missing, processes=processes, on_done=store)
    return {job_key(j): cache[job_key(j)]["test_accuracy"] for j in jobs}


def searched(methods: tuple[str, str], repeats: int, trials: int, processes: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Every search's reported front; for ``sh,top`` the single-fidelity searches get the trials
    that match the halving search's epochs."""
    first = parallel_map(reported_front, [(methods[0], r, trials) for r in range(repeats)], processes=processes)
    if methods[0] == "sh" and methods[1] in PER_CANDIDATE:
        second_trials = [max(1, round(f["epochs_spent"] / PER_CANDIDATE[methods[1]])) for f in first]
    else:
        second_trials = [trials] * repeats
    second = parallel_map(reported_front, [(methods[1], r, n) for r, n in zip(range(repeats), second_trials)],
                          processes=processes)
    return {**{(methods[0], r): f for r, f in enumerate(first)}, **{(methods[1], r): f for r, f in enumerate(second)}}


def main() -> None:
    repeats, trials = int(argument("repeats", "3")), int(argument("trials", "100"))
    members, processes = int(argument("members", "8")), int(argument("processes", "2"))
    pair = argument("pair", "default,random")
    methods = tuple(pair.split(","))
    assert methods in (("default", "random"), ("sh", "top"), ("sh", "sh-old")), \
        f"pair={pair}: default,random, sh,top or sh,sh-old"
    searches = searched(methods, repeats, trials, processes)
    fronts = {key: thinned(found["members"], members) for key, found in searches.items()}
    jobs = {key: [("long", g, LONG, 0) for g, _ in front] for key, front in fronts.items()}
    accuracy = trained([j for js in jobs.values() for j in js], processes)
    pool = Pool.load()
    reference = pool.reference()
    whole = front_hypervolume(np.array([pool.judge(m) for m in pool.members]),
                              np.array([m.flops for m in pool.members]), reference)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for (method, repeat), front in fronts.items():
        accs = np.array([accuracy[job_key(j)] for j in jobs[(method, repeat)]])
        flops = np.array([f for _, f in front])
        hv = front_hypervolume(accs, flops, reference) / whole
        rows[method].append({"repeat": repeat, "hv": float(hv), "members": len(front),
                             "trials": searches[(method, repeat)]["trials"],
                             "epochs_spent": searches[(method, repeat)]["epochs_spent"],
                             "mean_test_accuracy": float(accs.mean()), "best_test_accuracy": float(accs.max()),
                             "flops_min": float(flops.min()), "flops_max": float(flops.max())})
    print(f"\nend to end on cluttered ({' against '.join(methods)}), {trials} trials a search, fronts thinned to <= {members} and trained "
          f"{LONG:g} epochs (seed 0), judged hypervolume at ({reference[0]:.4f}, {reference[1]:.3g} FLOPs) as a "
          f"fraction of the own table's pool:")
    for method in methods:
        hv = [r["hv"] for r in rows[method]]
        print(f"  {method:8s} " + "  ".join(f"r{r['repeat']} {r['hv']:.3f} ({r['members']} kept, mean acc "
                                            f"{r['mean_test_accuracy']:.4f}; {r['trials']} trials, "
                                            f"{r['epochs_spent']:.0f} epochs)" for r in rows[method])
              + f"   mean {np.mean(hv):.3f}")
    diff = np.array([a["hv"] - b["hv"] for a, b in zip(rows[methods[0]], rows[methods[1]])])
    sd = float(diff.std(ddof=1)) if repeats > 1 else float("nan")
    verdict = {"mean_difference": float(diff.mean()), "sd_of_difference": sd,
               "in_sd": float(diff.mean() / sd) if sd and np.isfinite(sd) and sd > 0 else None,
               "first_wins": int((diff > 0).sum())}
    print(f"  {methods[0]} - {methods[1]}: {diff.mean():+.3f} (sd of the paired difference {sd:.3f}; "
          f"{methods[0]} higher in {verdict['first_wins']} of {repeats} repeats)")
    save("end_to_end" + ("" if methods == ("default", "random") else "_" + "_".join(methods).replace("-", "_")), {"repeats": repeats, "trials": trials, "members": members, "long_epochs": LONG,
                        "reference": reference, "rows": rows, "verdict": verdict,
                        "command": "python -m bench.end_to_end " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
