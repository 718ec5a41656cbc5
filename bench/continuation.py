"""Successive halving's extendable schedule: is continuing a candidate as good as training it from
scratch, and is the warmup-stable-decay schedule as good as the one-cycle one it replaces?

On the harder task (cluttered), 6 random ``mobile`` genotypes x 2 seeds, validation accuracy:

* one-cycle from scratch to 3 and to 9 epochs (``train_candidate``, single fidelity's trainer);
* warmup-stable-decay continued rung by rung 1 -> 3 -> 9 (``ExtendableRun``), cool-down share
  0.2 and 0.5, with the epochs each continuation actually trained;
* warmup-stable-decay from scratch to 9 epochs (cool-down 0.2, seed 0): continuation should give
  the same network to the last bit (same weights, optimizer state, step and random streams).

    python -m bench.continuation        # about 25 min on 2 cores
"""

from __future__ import annotations

import numpy as np
import optuna
import torch

from bench.common import quick, save
from bench.pool import parallel_map

DATASET = "cluttered"
RUNGS = (1.0, 3.0, 9.0)
COOLDOWNS = (0.2, 0.5)


def train(args: tuple[int, str, int, str, float]) -> dict:
    index, genotype, seed, kind, cooldown = args
    from nas.arch.genotype import Genotype
    from nas.train.extendable import ExtendableRun, StableDecay
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig, train_candidate

    torch.set_num_threads(1)
    data = load_dataset(DATASET)
    g = Genotype.from_json(genotype)
    row: dict = {"genotype": index, "seed": seed, "kind": kind, "cooldown": cooldown}
    if kind == "one-cycle":
        row["acc"] = {f"{e:g}": train_candidate(g, data, TrainConfig(epochs=e, seed=seed), "cpu").val_accuracy
                      for e in RUNGS[1:]}
        return row
    schedule = StableDecay(warmup_epochs=0.15 * RUNGS[0], cooldown=cooldown)
    run = ExtendableRun(g, data, TrainConfig(seed=seed), "cpu", schedule)
    budgets = RUNGS if kind == "continued" else RUNGS[-1:]
    row["acc"] = {f"{e:g}": run.train_to(e).accuracy for e in budgets}
    row["epochs_trained"] = run.epochs_trained
    row["weights_sum"] = float(sum(p.double().sum() for p in run.model.state_dict().values()))
    return row


def main() -> None:
    from nas.arch.space_file import load_space

    space = load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    genotypes = []
    for _ in range(2 if quick() else 6):
        trial = study.ask()
        genotypes.append(space.sample(trial, 1, 10, "index").to_json(indent=None))
        study.tell(trial, 0.0)
    seeds = (0, 1)
    jobs = [(i, g, s, "one-cycle", 0.0) for i, g in enumerate(genotypes) for s in seeds]
    jobs += [(i, g, s, "continued", c) for i, g in enumerate(genotypes) for s in seeds for c in COOLDOWNS]
    jobs += [(i, g, 0, "scratch", COOLDOWNS[0]) for i, g in enumerate(genotypes)]
    rows = parallel_map(train, jobs, on_done=lambda r: print(r, flush=True))

    def acc(kind: str, epochs: str, cooldown: float = 0.0) -> np.ndarray:
        picked = sorted((r["genotype"], r["seed"], r["acc"][epochs]) for r in rows
                        if r["kind"] == kind and r["cooldown"] == cooldown and epochs in r["acc"])
        return np.array([a for _, _, a in picked])

    summary: dict = {}
    for epochs in ("3", "9"):
        base = acc("one-cycle", epochs)
        summary[f"one_cycle_{epochs}"] = float(base.mean())
        for c in COOLDOWNS:
            diff = acc("continued", epochs, c) - base
            summary[f"wsd{c:g}_{epochs}"] = float(acc("continued", epochs, c).mean())
            summary[f"wsd{c:g}_minus_one_cycle_{epochs}"] = [float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))]
            print(f"{epochs} epochs: one-cycle {base.mean():.4f}, continued WSD (cool-down {c:g}) "
                  f"{acc('continued', epochs, c).mean():.4f}; paired difference {diff.mean():+.4f} "
                  f"+- {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} (s.e., n={len(diff)})")
    scratch = {r["genotype"]: r for r in rows if r["kind"] == "scratch"}
    same = [abs(r["acc"]["9"] - scratch[r["genotype"]]["acc"]["9"]) for r in rows
            if r["kind"] == "continued" and r["seed"] == 0 and r["cooldown"] == COOLDOWNS[0]]
    same_w = [abs(r["weights_sum"] - scratch[r["genotype"]]["weights_sum"]) for r in rows
              if r["kind"] == "continued" and r["seed"] == 0 and r["cooldown"] == COOLDOWNS[0]]
    summary["continued_vs_scratch_max_abs_acc_diff"] = max(same)
    summary["continued_vs_scratch_max_abs_weight_sum_diff"] = max(same_w)
    for c in COOLDOWNS:
        spent = [r["epochs_trained"] for r in rows if r["kind"] == "continued" and r["cooldown"] == c]
        summary[f"wsd{c:g}_epochs_trained_to_9"] = float(np.mean(spent))
    print(f"continued vs from scratch (WSD 0.2, seed 0, 9 epochs): largest accuracy difference "
          f"{max(same):.2g}, largest weight-sum difference {max(same_w):.2g}")
    print(f"epochs trained to reach 9 by continuation: "
          + ", ".join(f"{summary[f'wsd{c:g}_epochs_trained_to_9']:.2f} (cool-down {c:g})" for c in COOLDOWNS))
    save("continuation", {"dataset": DATASET, "rungs": RUNGS, "cooldowns": COOLDOWNS, "summary": summary,
                          "rows": rows, "command": "python -m bench.continuation"})


if __name__ == "__main__":
    main()
