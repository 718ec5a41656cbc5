"""The compound-scaling grid: which (alpha, beta, gamma) points to train, each landed on its FLOPs.

EfficientNet fixes alpha*beta^2*gamma^2 = the FLOPs factor per step and grid-searches the rest.
Here depth alpha and width beta run over a ``step`` grid (alpha, beta >= 1, alpha*beta^2 <= the
factor) and the nominal gamma is what the constraint leaves, sqrt(factor / (alpha*beta^2)).
Each point is then *built* to land on the factor in measured FLOPs (:mod:`nas.scaling.landing`:
the resolution is chosen after the width and depth rounding), so every trained point costs the
same within ``tolerance``. Points that cannot be brought within tolerance are reported and not
trained; points that round to a network another point already gives are trained once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..arch.genotype import Genotype
from ..errors import UserError
from .landing import DEFAULT_TOLERANCE, Landing, land_compound

GRID_VERSION = 2  # 2: (alpha, beta) grid, landed on measured FLOPs; 1 (old): 3-D nominal grid


@dataclass(frozen=True)
class ScalePoint:
    """A nominal compound scaling: depth alpha, width beta, resolution gamma per step."""

    alpha: float
    beta: float
    gamma: float

    @property
    def nominal_factor(self) -> float:
        return self.alpha * self.beta ** 2 * self.gamma ** 2


@dataclass(frozen=True)
class GridPoint:
    point: ScalePoint
    landing: Landing


@dataclass(frozen=True)
class GridPlan:
    """What a grid will train, and what it could not."""

    points: list[GridPoint]  # landed within tolerance, one per distinct network
    out_of_tolerance: list[GridPoint]
    duplicates: int  # nominal points that rounded to a network an earlier point gives

    def describe(self, tolerance: float, factor: float) -> str:
        text = (f"{len(self.points)} distinct networks land within +/-{tolerance:.0%} of x{factor:g} "
                f"measured FLOPs")
        if self.duplicates:
            text += f"; {self.duplicates} more grid points round to one of them"
        if self.out_of_tolerance:
            worst = ", ".join(f"a={g.point.alpha:.2f} b={g.point.beta:.2f} (x{g.landing.ratio:.2f})"
                              for g in self.out_of_tolerance[:3])
            more = "" if len(self.out_of_tolerance) <= 3 else f" and {len(self.out_of_tolerance) - 3} more"
            text += f"; {len(self.out_of_tolerance)} cannot land and are skipped: {worst}{more}"
        return text


@dataclass(frozen=True)
class GridSettings:
    flops_factor: float = 2.0
    step: float = 0.05
    tolerance: float = DEFAULT_TOLERANCE  # on the measured FLOPs ratio

    def check(self) -> None:
        if not self.flops_factor > 1:
            raise UserError(f"--flops-factor must be > 1, got {self.flops_factor:g}")
        if not 0 < self.step <= 1:
            raise UserError(f"--grid-step must be in (0, 1], got {self.step:g}")
        if not 0 < self.tolerance < 1:
            raise UserError(f"--tolerance must be in (0, 1) (relative, on measured FLOPs), got {self.tolerance:g}")

    def nominal_points(self) -> list[ScalePoint]:
        return nominal_points(self.flops_factor, self.step)

    def plan(self, base: Genotype) -> GridPlan:
        self.check()
        return _plan(base.to_json(indent=None), self.flops_factor, self.step, self.tolerance)

    def as_settings(self, base: Genotype) -> dict[str, object]:
        return {"base": base.key(), "flops_factor": self.flops_factor, "grid_step": self.step,
                "tolerance": self.tolerance, "grid_version": GRID_VERSION}


def nominal_points(flops_factor: float, step: float) -> list[ScalePoint]:
    """alpha, beta >= 1 on a ``step`` grid with alpha*beta^2 <= factor; gamma from the constraint."""
    def axis(limit: float) -> list[float]:
        n = int(math.floor((limit - 1) / step + 1e-9))
        return [round(1 + i * step, 10) for i in range(n + 1)]
    return [ScalePoint(a, b, math.sqrt(flops_factor / (a * b * b)))
            for a in axis(flops_factor) for b in axis(math.sqrt(flops_factor))
            if a * b * b <= flops_factor + 1e-12]


@lru_cache(maxsize=16)
def _plan(base_json: str, factor: float, step: float, tolerance: float) -> GridPlan:
    """Deterministic from its arguments: every worker computes the same plan."""
    base = Genotype.from_json(base_json)
    landed, out, seen, duplicates = [], [], set(), 0
    for p in nominal_points(factor, step):
        point = GridPoint(p, land_compound(base, p.alpha, p.beta, factor, tolerance))
        if not point.landing.within(tolerance):
            out.append(point)
        elif point.landing.genotype.key() in seen:
            duplicates += 1
        else:
            seen.add(point.landing.genotype.key())
            landed.append(point)
    if not landed:
        raise UserError(f"no grid point lands within +/-{tolerance:.0%} of x{factor:g} measured FLOPs after "
                        f"rounding; use a larger --tolerance or another --flops-factor")
    return GridPlan(landed, out, duplicates)
