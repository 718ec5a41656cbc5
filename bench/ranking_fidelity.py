"""Ranking fidelity of brief training: does a 2-epoch ranking predict a 10x longer one?

30 random genotypes of the mobile space are trained on mnist5k for 1, 2 (the default) and 4
epochs and for 20 epochs (10x the default). Each brief model is evaluated twice from the same
weights: with its stale BatchNorm running statistics, and after recalibrating them on 20
training batches (what the search does). Kendall tau against the 20-epoch ranking (recalibrated)
is reported for every budget, with and without recalibration.

    python -m bench.ranking_fidelity                     # 10 genotypes (CPU-sized, ~25 min here)
    BENCH_RANKING_N=30 python -m bench.ranking_fidelity  # the full 30 (about 70 min on 2 cores)

Each genotype's result is cached in results/bench/ranking_rows.json, so a longer run resumes.
"""

from __future__ import annotations

import numpy as np
import optuna
import torch
from scipy.stats import kendalltau

import json
import os

from bench.common import OUT, quick, save
from nas.cost import estimate_cost
from nas.data import load_dataset
from nas.space import load_space
from nas.train import DeviceData, TrainConfig, recalibrate_from_training_data, evaluate, train_candidate

BUDGETS = (1.0, 2.0, 4.0)
LONG = 20.0


def both_accuracies(g, data, epochs: float, device: torch.device) -> tuple[float, float, float]:
    """(accuracy without recalibration, with recalibration, wall seconds) from one training run."""
    cfg = TrainConfig(epochs=epochs, bn_recalibration_batches=0)
    r = train_candidate(g, data, cfg, device, keep_model=True)
    stale = r.val_accuracy
    dd = DeviceData.get(data, g.resolution, device)
    gen = torch.Generator(device=device).manual_seed(1)
    cfg_recal = TrainConfig(epochs=epochs)
    memory = torch.channels_last
    autocast = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")  # noqa: E731
    recalibrate_from_training_data(r.model, dd, cfg_recal, gen, memory, autocast)
    return stale, evaluate(r.model, dd, cfg_recal, autocast), r.total_time


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_dataset("mnist5k")
    space = load_space("mobile")
    n = 6 if quick() else int(os.environ.get("BENCH_RANKING_N", "10"))
    long_epochs = 4.0 if quick() else LONG
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=123))
    genotypes = []
    while len(genotypes) < n:
        t = study.ask()
        g = space.sample(t, data.in_channels, data.num_classes)
        study.tell(t, 0.0)
        if g.key() not in {x.key() for x in genotypes}:
            genotypes.append(g)
    cache = OUT / ("ranking_rows_quick.json" if quick() else "ranking_rows.json")
    cached = {r["arch"]: r for r in json.loads(cache.read_text())} if cache.exists() else {}
    rows = []
    for i, g in enumerate(genotypes):
        if g.arch in cached and cached[g.arch].get("long_epochs") == long_epochs:
            rows.append(cached[g.arch])
            continue
        row = {"arch": g.arch, "flops": estimate_cost(g).flops, "long_epochs": long_epochs}
        for b in BUDGETS:
            stale, recal, secs = both_accuracies(g, data, b, device)
            row[f"acc_{b:g}ep_stale_bn"], row[f"acc_{b:g}ep"], row[f"secs_{b:g}ep"] = stale, recal, secs
        row["acc_long"] = train_candidate(g, data, TrainConfig(epochs=long_epochs), device).val_accuracy
        rows.append(row)
        cached[g.arch] = row
        OUT.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(list(cached.values())))
        print(f"[{i + 1}/{n}] {row['flops'] / 1e6:.2f}M  " + "  ".join(
            f"{b:g}ep {row[f'acc_{b:g}ep']:.3f} (stale {row[f'acc_{b:g}ep_stale_bn']:.3f})" for b in BUDGETS)
            + f"  {long_epochs:g}ep {row['acc_long']:.3f}", flush=True)
    long = np.array([r["acc_long"] for r in rows])
    taus = {}
    for b in BUDGETS:
        for suffix, label in (("", "recalibrated"), ("_stale_bn", "stale BN")):
            tau = kendalltau([r[f"acc_{b:g}ep{suffix}"] for r in rows], long).statistic
            taus[f"{b:g}ep {label}"] = float(tau)
            print(f"Kendall tau, {b:g} epoch(s), {label:12s} vs {long_epochs:g} epochs: {tau:+.3f}")
    save("ranking_fidelity", {"genotypes": n, "long_epochs": long_epochs, "budgets": BUDGETS,
                              "kendall_tau": taus, "rows": rows, "goal": "tau >= 0.7 at the default budget",
                              "command": "python -m bench.ranking_fidelity"})


if __name__ == "__main__":
    main()
