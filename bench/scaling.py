"""Compound versus single-dimension scaling, in the spirit of EfficientNet's ablation (Fig. 8).

From the demo study's knee architecture (or, without a demo study, the mobile space's
``mnasnet_tiny`` reference), scale to about 2x and 4x FLOPs (nominal) by compound scaling and
by depth only, width only and resolution only; train each for the default number of epochs on mnist5k
with 3 seeds and report mean accuracy and measured FLOPs. The compound coefficients are the
demo's `scale` result when there is one, else EfficientNet's alpha=1.2, beta=1.1, gamma=1.15.

    python -m bench.scaling
"""

from __future__ import annotations

import math
import statistics

import optuna

from bench.common import ROOT, quick, save
from bench.pool import Job, run_jobs
from nas.model.cost import estimate_cost
from nas.arch.genotype import Genotype
from nas.report.results import knee
from nas.study.records import StudyRecord, TrialRecord
from nas.study.scale import scaled
from nas.arch.space_file import load_space
from nas.train.trainer import TrainConfig


def base_and_coefficients() -> tuple[Genotype, tuple[float, float, float], str]:
    db = ROOT / "results" / "demo" / "study.db"
    if db.exists():
        study = optuna.load_study(study_name="demo", storage=f"sqlite:///{db}")
        k = knee(study)
        g = Genotype.from_json(TrialRecord.from_trial(study.trials[int(k["number"])]).genotype)
        info = StudyRecord.from_study(study).scaling
        if info:
            return g, (info["alpha"], info["beta"], info["gamma"]), f"demo knee (trial {int(k['number'])}), demo scale result"
        return g, (1.2, 1.1, 1.15), f"demo knee (trial {int(k['number'])}), EfficientNet coefficients"
    g = load_space("mobile").reference_genotypes(1, 10)[1]
    return g, (1.2, 1.1, 1.15), "mobile/mnasnet_tiny reference, EfficientNet coefficients"


def main() -> None:
    base, (a, b, c), source = base_and_coefficients()
    seeds = (0,) if quick() else (0, 1, 2)
    epochs = 1.0 if quick() else float(TrainConfig().epochs or 2.0)  # the default budget
    base_flops = estimate_cost(base).flops
    phi_for = {2: math.log(2) / math.log(a * b * b * c * c), 4: 2 * math.log(2) / math.log(a * b * b * c * c)}
    variants = {"base": (1.0, 1.0, 1.0, 1.0)}
    for factor in (2, 4):
        variants[f"compound x{factor}"] = (a, b, c, phi_for[factor])
        variants[f"depth x{factor}"] = (factor, 1.0, 1.0, 1.0)
        variants[f"width x{factor}"] = (1.0, math.sqrt(factor), 1.0, 1.0)
        variants[f"resolution x{factor}"] = (1.0, 1.0, math.sqrt(factor), 1.0)
    genotypes = {name: scaled(base, da, wb, rg, phi) for name, (da, wb, rg, phi) in variants.items()}
    jobs = [Job(g.to_json(indent=None), epochs, s) for g in genotypes.values() for s in seeds]
    results = iter(run_jobs(jobs))
    rows = []
    for name, g in genotypes.items():
        accs = [next(results)["acc"] for _ in seeds]
        row = {"scaling": name, "resolution": g.resolution, "params": estimate_cost(g).params,
               "flops_ratio": estimate_cost(g).flops / base_flops, "acc_mean": statistics.mean(accs),
               "acc_std": statistics.pstdev(accs), "accs": accs}
        rows.append(row)
        print(f"{name:16s} FLOPs x{row['flops_ratio']:.2f}  res {g.resolution:3d}  params {row['params'] / 1e3:6.1f}k  "
              f"acc {row['acc_mean']:.4f} +/- {row['acc_std']:.4f}", flush=True)
    save("scaling", {"base": base.arch, "source": source, "coefficients": {"alpha": a, "beta": b, "gamma": c},
                     "seeds": list(seeds), "epochs": epochs, "rows": rows, "command": "python -m bench.scaling"})


if __name__ == "__main__":
    main()
