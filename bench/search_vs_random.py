"""Does the search find better architectures than random search and the hand-designed references,
judged on data it never saw?

On the harder embedded task (``cluttered``): the default search (``SearchConfig`` defaults:
default sampler and brief budget) and random search run ``TRIALS`` trials each from the same
start; the space's reference architectures are evaluated too. Each one's front (the references
as they are) is retrained with ``retrain``'s defaults (train + validation, ``SEEDS`` seeds) and
scored on the held-out test split. Reported: the final-test hypervolume of each group at one
fixed reference point (accuracy 0, 1.1 x the largest FLOPs retrained), with a bootstrap sd over
seeds, the search's margin over random in sd of the difference, and the best test accuracy of
each group at each reference architecture's FLOPs (within 5%).

    python -m bench.search_vs_random      # about 25 min on 2 cores; studies resume
"""

from __future__ import annotations

import io

import numpy as np

from bench.common import quick, save
from bench.pool import parallel_map

DATASET = "cluttered"
TRIALS = 30
SEEDS = 3
BOOTSTRAP = 1000
GROUPS = ("search", "random", "references")


def study_name(group: str) -> str:
    from nas.train.trainer import TrainConfig

    return f"bench-svr-{group}-e{TrainConfig().epochs:g}" + ("-quick" if quick() else "")


def run_group(group: str) -> dict:
    """Search (or evaluate the references), then retrain what it found; returns per-run rows."""
    from nas.arch.genotype import Genotype
    from nas.report.final import runs_frame
    from nas.report.results import pareto_frame
    from nas.study.store.records import TrialRecord
    from nas.study.budgets import DEFAULT_RETRAIN_EPOCHS
    from nas.study.retrain import Candidate, run_retrain
    from nas.study.search import SearchConfig, run_search
    from nas.study.store.storage import load_handle

    trials = 6 if quick() else TRIALS
    name = study_name(group)
    cfg = SearchConfig(space="mobile", dataset=DATASET, study=name, progress=False,
                       trials=3 if group == "references" else trials,
                       sampler="random" if group == "random" else SearchConfig().sampler,
                       seed_archs=group == "references", signal="val_accuracy")  # §10 as measured
    study = run_search(cfg, out=io.StringIO())
    if group == "references":
        chosen = [t for t in study.trials if TrialRecord.from_trial(t).reference]
    else:
        numbers = set(pareto_frame(study)["number"].astype(int))
        chosen = [t for t in study.trials if t.number in numbers]
    candidates = [Candidate(TrialRecord.from_trial(t).reference or f"trial {t.number}",
                            Genotype.from_json(TrialRecord.from_trial(t).genotype), t.number) for t in chosen]
    epochs = 2.0 if quick() else DEFAULT_RETRAIN_EPOCHS
    retrain = run_retrain(load_handle(None, name), candidates, epochs=epochs, seeds=SEEDS, out=io.StringIO())
    runs = runs_frame(retrain.study)
    runs = runs[(runs["state"] == "COMPLETE") & (runs["budget_epochs"] == epochs)]
    brief = {t.number: TrialRecord.from_trial(t).accuracy for t in chosen}
    return {"group": group, "study": name, "epochs": epochs, "trials": cfg.trials,
            "runs": [{"key": r.key, "label": r.label, "flops": int(r.flops), "params": int(r.params),
                      "seed": int(r.seed), "test_acc": float(r.test_accuracy),
                      "brief_val_acc": brief.get(int(r.source_trial))} for r in runs.itertuples()]}


def hypervolume(points: list[tuple[float, float]], flops_ref: float) -> float:
    from nas.pareto import front_hypervolume

    acc = np.array([a for a, _ in points])
    flops = np.array([f for _, f in points], float)
    return front_hypervolume(acc, flops, (0.0, flops_ref))


def by_arch(runs: list[dict]) -> dict[str, dict]:
    archs: dict[str, dict] = {}
    for r in runs:
        a = archs.setdefault(r["key"], {"label": r["label"], "flops": r["flops"], "accs": []})
        a["accs"].append(r["test_acc"])
    return archs


def main() -> None:
    results = {r["group"]: r for r in parallel_map(run_group, GROUPS, on_done=lambda r: print(
        f"{r['group']}: {len({x['key'] for x in r['runs']})} architectures retrained", flush=True))}
    archs = {g: by_arch(results[g]["runs"]) for g in GROUPS}
    flops_ref = 1.1 * max(a["flops"] for g in GROUPS for a in archs[g].values())
    rng = np.random.default_rng(0)
    hv, draws = {}, {}
    for g in GROUPS:
        means = [(float(np.mean(a["accs"])), a["flops"]) for a in archs[g].values()]
        hv[g] = hypervolume(means, flops_ref)
        draws[g] = np.array([hypervolume([(float(np.mean(rng.choice(a["accs"], len(a["accs"])))), a["flops"])
                                          for a in archs[g].values()], flops_ref) for _ in range(BOOTSTRAP)])
    diff = draws["search"] - draws["random"]
    margin_sd = (hv["search"] - hv["random"]) / diff.std() if diff.std() > 0 else float("inf")
    for g in GROUPS:
        print(f"{g:10s}: final-test hypervolume {hv[g] / 1e6:.4f} (x1e6; sd {draws[g].std() / 1e6:.4f}) over "
              f"{len(archs[g])} retrained architectures")
    print(f"search - random: {(hv['search'] - hv['random']) / 1e6:+.4f} x1e6 = {margin_sd:+.1f} sd of the "
          f"difference (goal: > 2 sd)")
    matched = []
    for ref in archs["references"].values():
        row = {"reference": ref["label"], "flops": ref["flops"], "reference_acc": float(np.mean(ref["accs"]))}
        for g in ("search", "random"):
            fit = [float(np.mean(a["accs"])) for a in archs[g].values() if a["flops"] <= 1.05 * ref["flops"]]
            row[g] = max(fit) if fit else None
        matched.append(row)
        fmt = lambda v: f"{v:.4f}" if v is not None else "none that small"  # noqa: E731
        print(f"at {ref['flops'] / 1e6:.2f}M FLOPs ({ref['label']}): reference {row['reference_acc']:.4f}, "
              f"search {fmt(row['search'])}, random {fmt(row['random'])}")
    save("search_vs_random", {"dataset": DATASET, "trials": results["search"]["trials"], "seeds": SEEDS,
                              "retrain_epochs": results["search"]["epochs"], "flops_ref": flops_ref,
                              "hypervolume": hv, "hypervolume_sd": {g: float(draws[g].std()) for g in GROUPS},
                              "search_minus_random_sd": margin_sd, "matched_flops": matched,
                              "groups": results, "command": "python -m bench.search_vs_random"})


if __name__ == "__main__":
    main()
