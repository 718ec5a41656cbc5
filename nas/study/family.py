"""The compound-scaled family of a base architecture, and single-dimension scalings to compare.

``scaled(base, alpha, beta, gamma, phi)`` applies depth alpha^phi, width beta^phi and resolution
gamma^phi with EfficientNet's rounding (:mod:`nas.arch.rounding`); the family table records each
member's measured FLOPs ratio (fvcore convention) beside the nominal (alpha*beta^2*gamma^2)^phi.
"""

from __future__ import annotations

import math
from typing import TextIO

import pandas as pd
import torch

from ..arch.genotype import Genotype
from ..arch.rounding import scale_genotype
from ..model.cost import estimate_cost
from ..train.data import Dataset
from ..train.trainer import TrainConfig, train_candidate
from .search import Trainer


def scaled(base: Genotype, alpha: float, beta: float, gamma: float, phi: float = 1.0) -> Genotype:
    """Base scaled by depth alpha^phi, width beta^phi, resolution gamma^phi (rounded)."""
    resolution = int(round(base.resolution * gamma ** phi))
    return scale_genotype(base, width_mult=beta ** phi, depth_mult=alpha ** phi, resolution=resolution)


def family_frame(base: Genotype, alpha: float, beta: float, gamma: float, phi_max: int) -> pd.DataFrame:
    base_flops = estimate_cost(base).flops
    rows = []
    for phi in range(0, phi_max + 1):
        g = scaled(base, alpha, beta, gamma, phi).with_updates(name=f"phi{phi}")
        cost = estimate_cost(g)
        rows.append({"phi": phi, "depth_mult": alpha ** phi, "width_mult": beta ** phi,
                     "resolution": g.resolution, "params": cost.params, "flops": cost.flops,
                     "flops_ratio": cost.flops / base_flops,
                     "nominal_ratio": (alpha * beta ** 2 * gamma ** 2) ** phi,
                     "genotype": g.to_json()})
    return pd.DataFrame(rows)


def compare_single_dimension(base: Genotype, best: tuple[float, float, float], flops_factor: float,
                             data: Dataset, cfg: TrainConfig, device: torch.device, out: TextIO,
                             trainer: Trainer = train_candidate) -> pd.DataFrame:
    """Compound scaling versus depth-only, width-only and resolution-only to the same nominal FLOPs."""
    a, b, c = best
    variants = {
        "base": (1.0, 1.0, 1.0),
        "compound": (a, b, c),
        "depth only": (flops_factor, 1.0, 1.0),
        "width only": (1.0, math.sqrt(flops_factor), 1.0),
        "resolution only": (1.0, 1.0, math.sqrt(flops_factor)),
    }
    base_flops = estimate_cost(base).flops
    rows = []
    for name, (da, wb, rg) in variants.items():
        g = scaled(base, da, wb, rg)
        cost = estimate_cost(g)
        r = trainer(g, data, cfg, device)
        rows.append({"scaling": name, "alpha": da, "beta": wb, "gamma": rg, "resolution": g.resolution,
                     "params": cost.params, "flops": cost.flops, "flops_ratio": cost.flops / base_flops,
                     "accuracy": r.val_accuracy})
    frame = pd.DataFrame(rows)
    print("compound versus single-dimension scaling (one seed, brief training):", file=out)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=out)
    return frame
