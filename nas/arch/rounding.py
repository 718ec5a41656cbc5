"""EfficientNet's rounding rules, applied to a genotype (never to a built model).

Scaling returns a new genotype, so the analytic cost model, the JSON export and the builder all see
exactly the network that will run.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .genotype import Genotype

CHANNEL_DIVISOR = 8


def make_divisible(value: float, divisor: int = CHANNEL_DIVISOR, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor``, never below 90% of ``value`` (as TF/torchvision)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_channels(channels: int, width_mult: float) -> int:
    if width_mult == 1.0:
        return channels
    return make_divisible(channels * width_mult)


def scale_repeats(repeats: int, depth_mult: float) -> int:
    return int(math.ceil(repeats * depth_mult))


def scale_genotype(g: Genotype, width_mult: float = 1.0, depth_mult: float = 1.0,
                   resolution: int | None = None) -> Genotype:
    """Compound-scale a genotype: widths rounded to multiples of 8, repeats rounded up.

    The genotype's ``scaling_rule`` says what scales: ``efficientnet`` everything; ``lite``
    (EfficientNet-Lite, for mobile accelerators) keeps the stem and head widths and the first
    and last stages' depth, as timm's ``fix_stem``, fixed ``num_features`` and
    ``fix_first_last`` do."""
    if width_mult <= 0 or depth_mult <= 0:
        raise ValueError("width_mult and depth_mult must be positive")
    lite = g.scaling_rule == "lite"
    last = len(g.stages) - 1
    stages = tuple(
        replace(s, channels=scale_channels(s.channels, width_mult),
                repeats=s.repeats if lite and i in (0, last) else scale_repeats(s.repeats, depth_mult))
        for i, s in enumerate(g.stages))
    head = (replace(g.head, channels=scale_channels(g.head.channels, width_mult))
            if g.head.channels and not lite else g.head)
    stem = g.stem if lite else replace(g.stem, channels=scale_channels(g.stem.channels, width_mult))
    return replace(g, stem=stem, stages=stages, head=head,
                   resolution=int(resolution) if resolution else g.resolution)
