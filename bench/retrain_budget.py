"""The final-training budget of ``retrain``: how many epochs until test accuracy stops rising.

The space's reference architectures and two random ones are trained on the harder task's train +
validation split for 10, 20 and 40 epochs (seed 0) and scored on its held-out test split, as
``retrain`` does. The default (``nas.study.budgets.DEFAULT_RETRAIN_EPOCHS``) is the smallest budget whose
mean test accuracy is within one point of the largest budget's, or, if none is, the largest.

    python -m bench.retrain_budget        # about 6 min on 2 cores
"""

from __future__ import annotations

import numpy as np
import optuna
import torch

from bench.common import quick, save
from bench.pool import parallel_map

DATASET = "cluttered"
BUDGETS = (10.0, 20.0, 40.0)
WITHIN = 0.01  # one point of accuracy


def train(args: tuple[str, str, float]) -> dict:
    label, genotype, epochs = args
    from nas.arch.genotype import Genotype
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig, train_candidate

    data = load_dataset(DATASET, with_test=True).for_final_training()
    r = train_candidate(Genotype.from_json(genotype), data, TrainConfig(epochs=epochs), torch.device("cpu"))
    return {"label": label, "epochs": epochs, "test_acc": r.val_accuracy, "secs": r.total_time}


def main() -> None:
    from nas.arch.space_file import load_space

    space = load_space("mobile")
    archs = [(g.name, g.to_json(indent=None)) for g in space.reference_genotypes(1, 10)]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=11))
    for i in range(2):
        trial = study.ask()
        archs.append((f"random{i}", space.sample(trial, 1, 10, "index").to_json(indent=None)))
        study.tell(trial, 0.0)
    budgets = (1.0, 2.0) if quick() else BUDGETS
    archs = archs[:2] if quick() else archs
    jobs = [(label, g, e) for e in sorted(budgets, reverse=True) for label, g in archs]
    rows = parallel_map(train, jobs, on_done=lambda r: print(r, flush=True))
    mean = {e: float(np.mean([r["test_acc"] for r in rows if r["epochs"] == e])) for e in budgets}
    secs = {e: float(np.mean([r["secs"] for r in rows if r["epochs"] == e])) for e in budgets}
    top = mean[max(budgets)]
    chosen = next(e for e in sorted(budgets) if mean[e] >= top - WITHIN)
    for e in budgets:
        print(f"{e:g} epochs: mean test accuracy {mean[e]:.4f} over {len(archs)} architectures; "
              f"{secs[e]:.1f} s per run (two runs at a time)")
    print(f"smallest budget within {WITHIN:.0%} of {max(budgets):g} epochs: {chosen:g} epochs")
    save("retrain_budget", {"dataset": DATASET, "budgets": budgets, "mean_test_acc": mean, "mean_secs": secs,
                            "chosen_epochs": chosen, "rows": rows, "command": "python -m bench.retrain_budget"})


if __name__ == "__main__":
    main()
