"""The compound-scaled family of a base architecture, and the single-dimension scalings to compare.

Member phi has depth alpha^phi and width beta^phi and is landed on factor^phi measured FLOPs
(:mod:`nas.scaling.landing`): the family steps by the FLOPs factor the user asked for, after
rounding, not by the nominal (alpha*beta^2*gamma^2)^phi. ``scaled`` is the plain nominal scaling
(EfficientNet's published B1-B7 are B0 scaled this way), kept for reproducing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..arch.genotype import Genotype
from ..arch.rounding import scale_genotype
from ..model.cost import estimate_cost
from .landing import DEFAULT_TOLERANCE, DIMENSIONS, Landing, land, land_compound


def scaled(base: Genotype, alpha: float, beta: float, gamma: float, phi: float = 1.0) -> Genotype:
    """Base scaled by depth alpha^phi, width beta^phi, resolution gamma^phi (rounded, not landed)."""
    resolution = int(round(base.resolution * gamma ** phi))
    return scale_genotype(base, width_mult=beta ** phi, depth_mult=alpha ** phi, resolution=resolution)


def unscaled(base: Genotype) -> Landing:
    return Landing(base, 1.0, 1.0, 1.0, 1.0, base.resolution)


def family_member(base: Genotype, alpha: float, beta: float, flops_factor: float, phi: int,
                  tolerance: float = DEFAULT_TOLERANCE) -> Landing:
    """Member phi of the family, landed on flops_factor^phi measured FLOPs."""
    if phi == 0:
        return unscaled(base)
    return land_compound(base, alpha, beta, flops_factor ** phi, tolerance, phi)


@dataclass(frozen=True)
class Variant:
    """One scaled network to train and compare: which scaling, which step, what was built."""

    label: str  # "phi2", "compound x4", "width only x2", "base"
    dimension: str  # "base" or one of landing.DIMENSIONS
    phi: int
    landing: Landing


def family_variants(base: Genotype, alpha: float, beta: float, flops_factor: float, phi_max: int,
                    tolerance: float = DEFAULT_TOLERANCE) -> list[Variant]:
    return [Variant(f"phi{phi}", "base" if phi == 0 else "compound", phi,
                    family_member(base, alpha, beta, flops_factor, phi, tolerance))
            for phi in range(phi_max + 1)]


def comparison_variants(base: Genotype, alpha: float, beta: float, flops_factor: float, phis: list[int],
                        tolerance: float = DEFAULT_TOLERANCE) -> list[Variant]:
    """The base, then at each flops_factor^phi: compound and depth, width, resolution alone, each
    landed as near that measured FLOPs ratio as it can (see ``Landing.within``)."""
    variants = [Variant("base", "base", 0, unscaled(base))]
    for phi in phis:
        target = flops_factor ** phi
        for dimension in DIMENSIONS:
            landing = land(base, dimension, target, alpha, beta, tolerance, phi)
            variants.append(Variant(f"{dimension} x{target:g}", dimension, phi, landing))
    return variants


def variants_frame(base: Genotype, variants: list[Variant], tolerance: float,
                   nominal: tuple[float, float, float] | None = None) -> pd.DataFrame:
    """What each variant is: target and measured FLOPs ratios (fvcore convention), multipliers as
    built, and whether it landed within ``tolerance``. ``nominal`` (alpha, beta, gamma) adds the
    family's nominal multipliers beside the built ones."""
    rows = []
    for v in variants:
        land_, cost = v.landing, estimate_cost(v.landing.genotype)
        row = {"label": v.label, "scaling": v.dimension, "phi": v.phi, "target_ratio": land_.target,
               "flops_ratio": land_.ratio, "error": land_.error, "within_tolerance": land_.within(tolerance),
               "depth_mult": land_.depth_mult, "width_mult": land_.width_mult, "resolution": land_.resolution,
               "gamma_built": land_.resolution / base.resolution, "params": cost.params, "flops": cost.flops}
        if nominal is not None:
            a, b, c = nominal
            row.update({"nominal_depth": a ** v.phi, "nominal_width": b ** v.phi,
                        "nominal_resolution": base.resolution * c ** v.phi})
        rows.append({**row, "key": land_.genotype.key(),
                     "genotype": land_.genotype.with_updates(name=v.label).to_json()})
    return pd.DataFrame(rows)


def family_frame(base: Genotype, alpha: float, beta: float, gamma: float, flops_factor: float, phi_max: int,
                 tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """phi = 0..phi_max, each landed on flops_factor^phi; gamma is the grid point's nominal one."""
    return variants_frame(base, family_variants(base, alpha, beta, flops_factor, phi_max, tolerance),
                          tolerance, (alpha, beta, gamma))
