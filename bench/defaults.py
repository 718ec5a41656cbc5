"""Batch size and learning rate of the brief training: the measurement behind the defaults.

What a search needs from brief training is a trustworthy *ranking* at a low cost, so each
(batch size, peak learning rate) is judged on the first 15 genotypes of the ranking benchmark
(``bench.ranking_fidelity``, whose 10x-longer accuracies, trained with the defaults, are the
reference): Kendall tau against that ranking, mean validation accuracy, and seconds per
candidate (two candidates train at once, one per core, so seconds compare within this table).
The default configuration's row comes from the benchmark table; the others are trained here.

    python -m bench.defaults        # after bench.ranking_fidelity (reuses its cached trainings)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from bench import table
from bench.common import quick, save
from bench.pool import Job, run_jobs
from nas.train.trainer import TrainConfig

LONG = 10.0  # the mnist5k 10-epoch reference that §6 was measured against
GRID = ((32, 0.1), (64, 0.2), (64, 0.4), (128, 0.4))


def main() -> None:
    default = TrainConfig()
    epochs = float(default.epochs or 1.0)
    n = 8 if quick() else 15
    long_epochs = 4.0 if quick() else LONG
    genotypes = table.random_genotypes(n)
    cached = table.results(genotypes, (epochs, long_epochs))
    long = np.array([r["acc"] for r in cached[long_epochs]])
    rows = []
    for bs, lr in GRID:
        if (bs, lr) == (default.batch_size, default.lr):
            results = cached[epochs]
        else:
            results = run_jobs([Job(g.to_json(indent=None), epochs, 0, batch_size=bs, lr=lr) for g in genotypes])
        acc = np.array([r["acc"] for r in results])
        row = {"batch_size": bs, "lr": lr, "tau": float(kendalltau(acc, long).statistic),
               "mean_acc": float(acc.mean()), "mean_secs": float(np.mean([r["secs"] for r in results])),
               "default": (bs, lr) == (default.batch_size, default.lr)}
        rows.append(row)
        print(f"batch {bs:3d}  lr {lr:.1f}:  tau vs {long_epochs:g} epochs {row['tau']:+.3f}  mean accuracy "
              f"{row['mean_acc']:.3f}  {row['mean_secs']:.1f} s/candidate{'  (default)' if row['default'] else ''}",
              flush=True)
    save("defaults", {"epochs": epochs, "genotypes": n, "long_epochs": long_epochs, "rows": rows,
                      "command": "python -m bench.defaults"})


if __name__ == "__main__":
    main()
