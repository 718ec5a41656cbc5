"""Successive halving against single fidelity, on the harder task, at measured compute.

Four searches per seed (``mobile`` space, ``cluttered``, ``--flops-max 20M``, default sampler, one
worker), 5 seeds:

* ``single-1``: single fidelity at the default budget (1 epoch), 16 trials;
* ``single-9``: single fidelity at successive halving's top budget (9 epochs), 16 trials;
* ``sh``: ``--fidelity sh`` with the rungs measured in §11b (1 / 3 / 9 epochs, eta 3, no screen: the
  defaults until 2026-12-02), 16 trials;
* ``single-1-matched``: single fidelity at 1 epoch with as many trials as ``sh`` of the same seed
  spent epochs (equal compute).

Compute is epochs trained, summed over the search (cool-downs included), and wall time. Every
front is scored the same way, on data no search saw: each front member is trained again with the
single-fidelity trainer for 9 epochs on train + validation (seed = the search's seed) and scored
on the held-out test split; the hypervolume of those (test accuracy, FLOPs) points, reference
(accuracy 0, 20M FLOPs), is the figure compared. Searching and retraining run two at a time.

    python -m bench.halving        # about 31 min on 2 cores (1883 s, 2026-11-25)
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import quick, save
from bench.pool import parallel_map

DATASET = "cluttered"
SPACE = "mobile"
FLOPS_MAX = 20e6
TRIALS = 16
FINAL_EPOCHS = 9.0
SEEDS = (0, 1, 2, 3, 4)


def search(args: tuple[str, int, int]) -> dict:
    method, seed, trials = args
    import torch

    from nas.report.results import pareto_frame, trials_frame
    from nas.train.rungs import Rungs
    from nas.study.search import SearchConfig, run_search
    from nas.train.trainer import TrainConfig

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench-halving-"))
    epochs = 9.0 if method == "single-9" else 1.0
    cfg = SearchConfig(space=SPACE, dataset=DATASET, study=f"{method}-{seed}", trials=trials,
                       train=TrainConfig(epochs=epochs, seed=seed), flops_max=FLOPS_MAX, seed=seed,
                       storage=f"sqlite:///{work / 'study.db'}", write_files=False, progress=False,
                       fidelity=Rungs(1, 9, 3, screen=None) if method == "sh" else None,  # the rungs §11b measured
                       checkpoint_dir=str(work / "checkpoints"), signal="val_accuracy")  # §11b as measured
    start = time.perf_counter()
    study = run_search(cfg, out=io.StringIO())
    wall = time.perf_counter() - start
    frame = trials_frame(study)
    trained = frame[frame["trained"].fillna(False).astype(bool) & frame["reused_from"].isna()]
    spent = (trained["trained_epochs"] if method == "sh" else trained["epochs"]).astype(float).sum()
    front = pareto_frame(frame)
    genotypes = {int(t.number): t.user_attrs["genotype"] for t in study.trials}
    return {"method": method, "seed": seed, "trials": trials, "epochs_trained": float(spent), "wall_s": wall,
            "rung_counts": (trained["rung"].value_counts().sort_index().to_dict() if method == "sh" else None),
            "front": [{"number": int(r["number"]), "accuracy": float(r["accuracy"]), "flops": float(r["flops"]),
                       "genotype": genotypes[int(r["number"])]} for _, r in front.iterrows()],
            "prefix_fronts": _prefix_front(frame, genotypes, TRIALS) if method == "single-1-matched" else None}


def _prefix_front(frame, genotypes: dict[int, str], n: int) -> list[dict]:  # noqa: ANN001 - DataFrame
    """The front of the first ``n`` trials: single-1 is the matched run's prefix (same seed, same
    sampler, one worker: the first n proposals are the same)."""
    from nas.report.results import pareto_frame

    first = frame[frame["number"] < n]
    return [{"number": int(r["number"]), "accuracy": float(r["accuracy"]), "flops": float(r["flops"]),
             "genotype": genotypes[int(r["number"])]} for _, r in pareto_frame(first).iterrows()]


def final(args: tuple[str, int]) -> dict:
    genotype, seed = args
    import torch

    from nas.arch.genotype import Genotype
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig, train_candidate

    torch.set_num_threads(1)
    data = load_dataset(DATASET, with_test=True).for_final_training()
    g = Genotype.from_json(genotype)
    r = train_candidate(g, data, TrainConfig(epochs=FINAL_EPOCHS, seed=seed), "cpu")
    return {"key": g.key(), "seed": seed, "test_acc": r.val_accuracy, "secs": r.total_time}


def main() -> None:
    from nas.pareto import front_hypervolume

    seeds = SEEDS[:1] if quick() else SEEDS
    trials = 6 if quick() else TRIALS
    t0 = time.perf_counter()
    first = parallel_map(search, [(m, s, trials) for s in seeds for m in ("sh", "single-9")],
                         on_done=lambda r: print({k: r[k] for k in ("method", "seed", "epochs_trained", "wall_s")}, flush=True))
    sh_epochs = {r["seed"]: r["epochs_trained"] for r in first if r["method"] == "sh"}
    matched = parallel_map(search, [("single-1-matched", s, max(trials, round(sh_epochs[s]))) for s in seeds],
                           on_done=lambda r: print({k: r[k] for k in ("method", "seed", "trials", "wall_s")}, flush=True))
    runs = first + matched
    for r in matched:  # single-1: the first `trials` of the matched run
        runs.append({"method": "single-1", "seed": r["seed"], "trials": trials, "epochs_trained": float(trials),
                     "wall_s": r["wall_s"] * trials / r["trials"], "front": r["prefix_fronts"]})
    jobs = sorted({(p["genotype"], r["seed"]) for r in runs for p in r["front"]})
    scored = parallel_map(final, jobs, on_done=lambda r: print(r, flush=True))
    from nas.arch.genotype import Genotype

    test_acc = {(s["key"], s["seed"]): s["test_acc"] for s in scored}
    reference = (0.0, FLOPS_MAX)
    for r in runs:
        acc = np.array([test_acc[(Genotype.from_json(p["genotype"]).key(), r["seed"])] for p in r["front"]])
        flops = np.array([p["flops"] for p in r["front"]])
        r["hv_test"] = front_hypervolume(acc, flops, reference) if len(acc) else 0.0
        r["hv_search"] = front_hypervolume(np.array([p["accuracy"] for p in r["front"]]), flops, reference)
        r["flops_span"] = float(flops.max() / flops.min()) if len(flops) else 0.0
        r["front_size"] = len(flops)
        r.pop("prefix_fronts", None)
    methods = ("single-1", "single-1-matched", "single-9", "sh")
    summary = {}
    for m in methods:
        rows = [r for r in runs if r["method"] == m]
        hv = np.array([r["hv_test"] for r in rows]) / 1e6
        summary[m] = {"hv_test_mean": float(hv.mean()), "hv_test_sd": float(hv.std(ddof=1)) if len(hv) > 1 else 0.0,
                      "epochs_mean": float(np.mean([r["epochs_trained"] for r in rows])),
                      "wall_mean_s": float(np.mean([r["wall_s"] for r in rows])),
                      "flops_span_mean": float(np.mean([r["flops_span"] for r in rows])),
                      "front_size_mean": float(np.mean([r["front_size"] for r in rows]))}
        s = summary[m]
        print(f"{m:>17}: test HV {s['hv_test_mean']:.3f} +- {s['hv_test_sd']:.3f} (x1e6, sd over {len(rows)} seeds); "
              f"{s['epochs_mean']:.0f} epochs, {s['wall_mean_s']:.0f} s; front {s['front_size_mean']:.1f} points "
              f"spanning x{s['flops_span_mean']:.1f} FLOPs")
    by_seed = {m: {r["seed"]: r["hv_test"] / 1e6 for r in runs if r["method"] == m} for m in methods}
    for a, b in (("sh", "single-9"), ("sh", "single-1-matched"), ("sh", "single-1")):
        d = np.array([by_seed[a][s] - by_seed[b][s] for s in seeds])
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        summary[f"{a}_minus_{b}"] = [float(d.mean()), se]
        print(f"{a} - {b}: {d.mean():+.3f} +- {se:.3f} (paired over seeds, s.e.)")
    summary["sh_compute_share_of_single_9"] = summary["sh"]["epochs_mean"] / summary["single-9"]["epochs_mean"]
    print(f"sh used {summary['sh_compute_share_of_single_9']:.0%} of single-9's epochs; "
          f"whole benchmark {time.perf_counter() - t0:.0f} s")
    save("halving", {"dataset": DATASET, "space": SPACE, "flops_max": FLOPS_MAX, "trials": trials,
                     "final_epochs": FINAL_EPOCHS, "seeds": seeds, "summary": summary, "runs": runs,
                     "finals": scored, "command": "python -m bench.halving"})


if __name__ == "__main__":
    main()
