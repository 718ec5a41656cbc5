"""Scaled networks that land on their FLOPs target *after* rounding.

EfficientNet's rounding (channels to multiples of 8, repeats rounded up, integer pixels) moves a
small network's FLOPs far from the nominal alpha*beta^2*gamma^2: on the demo's knee a nominal x2
step measured x2.78 (BENCHMARKS.md §5). Here every scaled network is chosen in *measured* FLOPs
space (fvcore's convention, through the analytic cost model, which equals fvcore's count):

* compound: depth alpha^phi and width beta^phi are rounded, then the resolution is chosen so that
  the measured ratio is nearest the target (resolution moves FLOPs most smoothly; it may go below
  the base's when rounding the depth up already overshoots). At 28-32 px one pixel more moves a
  stride-2 feature map by a whole row, so FLOPs jump by up to ~45% and no resolution may land;
  the width multiplier is then nudged by the smallest amount (1% steps, up to +/-15%) that
  brings the measured ratio within half the tolerance, and only if no nudge lands is the block
  count changed (the nearest other depth multiplier first);
* depth only / width only / resolution only: that one multiplier is scanned alone and the value
  whose measured ratio is nearest the target is kept; nothing else moves, so such a scaling may
  be unable to land (depth moves in whole blocks) and is then reported as out of tolerance.

A landing outside ``tolerance`` is returned, not raised: callers report it and skip it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from ..arch.genotype import Genotype
from ..arch.rounding import scale_genotype
from ..model.cost import estimate_cost
from .tolerance import DEFAULT_TOLERANCE
WIDTH_NUDGE_STEP = 0.01
WIDTH_NUDGE_MAX = 0.15  # beyond this the network is no longer the compound point it was asked for
MIN_RESOLUTION = 8
DIMENSIONS = ("compound", "depth only", "width only", "resolution only")


@dataclass(frozen=True)
class Landing:
    """A scaled network and how close its measured FLOPs ratio came to the target."""

    genotype: Genotype
    target: float  # wanted measured FLOPs ratio to the base
    ratio: float  # measured (fvcore convention, after rounding)
    depth_mult: float
    width_mult: float  # as applied, after any nudge
    resolution: int
    width_nudge: float = 0.0  # relative change of the width multiplier made to land

    @property
    def error(self) -> float:
        """Relative error of the measured ratio against the target."""
        return self.ratio / self.target - 1.0

    def within(self, tolerance: float) -> bool:
        return abs(self.error) <= tolerance + 1e-12


def _log_error(ratio: float, target: float) -> float:
    return abs(math.log(ratio / target))


class _Costs:
    """Measured FLOPs ratios to one base, each distinct network costed once."""

    def __init__(self, base: Genotype) -> None:
        self.base_flops = estimate_cost(base).flops
        self._seen: dict[str, float] = {}

    def ratio(self, g: Genotype) -> float:
        key = g.key()
        if key not in self._seen:
            self._seen[key] = estimate_cost(g).flops / self.base_flops
        return self._seen[key]


def _nearest_resolution(make: Callable[[int], Genotype], costs: _Costs, target: float,
                        lo: int, hi: int) -> tuple[int, float]:
    """The resolution in [lo, hi] whose measured ratio is nearest ``target``. FLOPs never fall
    as the resolution grows (feature maps are ceil(r / stride)), so a bisection finds the first
    resolution at or above the target; it or the one before it is the nearest."""
    if costs.ratio(make(hi)) < target:
        return hi, costs.ratio(make(hi))
    left, right = lo, hi
    while left < right:
        mid = (left + right) // 2
        if costs.ratio(make(mid)) >= target:
            right = mid
        else:
            left = mid + 1
    options = [r for r in (left - 1, left) if lo <= r <= hi]
    best = min(options, key=lambda r: (_log_error(costs.ratio(make(r)), target), r))
    return best, costs.ratio(make(best))


def _resolution_bounds(base: Genotype, target: float, below_base: bool = False) -> tuple[int, int]:
    """Up to well past what the target could need; from the base resolution, or (compound) from
    half of it, since rounding depth up can overshoot the target on its own (a 1-block stage
    becomes 2 blocks at alpha = 1.2) and only a smaller resolution can then bring it back."""
    lo = max(MIN_RESOLUTION, base.resolution // 2) if below_base else base.resolution
    return lo, max(base.resolution + 2, int(math.ceil(base.resolution * math.sqrt(target) * 2)))


def _nudges() -> Iterable[float]:
    """0, +1%, -1%, +2%, -2%, ... up to WIDTH_NUDGE_MAX: smallest change first."""
    yield 0.0
    steps = int(round(WIDTH_NUDGE_MAX / WIDTH_NUDGE_STEP))
    for i in range(1, steps + 1):
        yield i * WIDTH_NUDGE_STEP
        yield -i * WIDTH_NUDGE_STEP


def _depth_alternatives(base: Genotype, depth: float) -> list[float]:
    """``depth`` first, then multipliers giving other block counts within x/÷1.5 of it (never
    fewer blocks than the base), nearest first: one value per distinct repeats tuple."""
    values = {depth}
    for repeats in {s.repeats for s in base.stages}:
        for k in range(repeats, int(math.ceil(repeats * depth * 1.5)) + 1):
            values.add(max(1.0, (k - 0.5) / repeats))  # exactly k blocks for this stage
    lo, hi = max(1.0, depth / 1.5), depth * 1.5
    ordered = sorted((v for v in values if lo - 1e-12 <= v <= hi + 1e-12), key=lambda v: (abs(math.log(v / depth)), v))
    chosen, seen = [], set()
    for v in [depth, *ordered]:
        shape = tuple(math.ceil(s.repeats * v) for s in base.stages)
        if shape not in seen:
            seen.add(shape)
            chosen.append(v)
    return chosen


def land_compound(base: Genotype, alpha: float, beta: float, target: float,
                  tolerance: float = DEFAULT_TOLERANCE, phi: float = 1.0) -> Landing:
    """Depth alpha^phi and width beta^phi, resolution chosen to land on ``target``; where that
    is too coarse, the width is nudged (up to +/-15%, smallest first: the first network within
    half the tolerance is kept, else the nearest if within tolerance); only if no nudge lands is
    the block count changed (depth multipliers within x/÷1.5, nearest first). Returns the
    nearest found when nothing lands. gamma is what the chosen resolution implies."""
    costs = _Costs(base)
    lo, hi = _resolution_bounds(base, target, below_base=True)
    best: Landing | None = None
    shapes_seen: set[tuple[int, ...]] = set()
    for depth in _depth_alternatives(base, alpha ** phi):
        for nudge in _nudges():
            width = beta ** phi * (1 + nudge)
            shaped = scale_genotype(base, width_mult=width, depth_mult=depth)
            shape = (shaped.stem.channels, shaped.head.channels, *(s.channels for s in shaped.stages),
                     *(s.repeats for s in shaped.stages))
            if shape in shapes_seen:
                continue  # this nudge rounds to a network already tried
            shapes_seen.add(shape)
            r, ratio = _nearest_resolution(lambda res: shaped.with_updates(resolution=res), costs, target, lo, hi)
            candidate = Landing(shaped.with_updates(resolution=r), target, ratio, depth, width, r, nudge)
            if candidate.within(tolerance / 2):
                return candidate
            if best is None or _log_error(ratio, target) < _log_error(best.ratio, target):
                best = candidate
        if best is not None and best.within(tolerance):
            return best  # the asked-for block count lands: no need to change it
    assert best is not None  # the unnudged network always yields a candidate
    return best


def land_single(base: Genotype, dimension: str, target: float) -> Landing:
    """Depth, width or resolution alone, the one value whose measured ratio is nearest ``target``."""
    costs = _Costs(base)
    if dimension == "resolution only":
        lo, hi = _resolution_bounds(base, target)
        r, ratio = _nearest_resolution(lambda res: base.with_updates(resolution=res), costs, target, lo, hi)
        return Landing(base.with_updates(resolution=r), target, ratio, 1.0, 1.0, r)
    if dimension not in ("depth only", "width only"):
        raise ValueError(f"unknown scaling dimension {dimension!r}; expected one of {DIMENSIONS}")
    # Depth can need up to ~target x the blocks; width ~sqrt(target). Scan a fine grid (rounding
    # makes FLOPs a step function of the multiplier) and keep the nearest.
    limit = 2.0 * target if dimension == "depth only" else 2.0 * math.sqrt(target)
    best: Landing | None = None
    step = 0.005
    for i in range(int(math.ceil((limit - 1.0) / step)) + 1):
        mult = 1.0 + i * step
        depth, width = (mult, 1.0) if dimension == "depth only" else (1.0, mult)
        g = scale_genotype(base, width_mult=width, depth_mult=depth)
        ratio = costs.ratio(g)
        if best is None or _log_error(ratio, target) < _log_error(best.ratio, target):
            best = Landing(g, target, ratio, depth, width, base.resolution)
        if ratio > target * 2:
            break
    assert best is not None
    return best


def land(base: Genotype, dimension: str, target: float, alpha: float = 1.0, beta: float = 1.0,
         tolerance: float = DEFAULT_TOLERANCE, phi: float = 1.0) -> Landing:
    """One entry point for the comparison: compound (with the grid's alpha, beta) or one dimension."""
    if dimension == "compound":
        return land_compound(base, alpha, beta, target, tolerance, phi)
    return land_single(base, dimension, target)
