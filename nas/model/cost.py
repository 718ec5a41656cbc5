"""Parameters and FLOPs: measured with fvcore, and estimated from the genotype alone.

FLOPs convention everywhere in this toolkit: **fvcore's count** -- one multiply-add = one flop,
model in eval mode, batch 1, at the genotype's input resolution. fvcore counts convolutions and
linear layers (multiply-adds, bias ignored), BatchNorm (2 per element in eval mode) and adaptive
average pooling (1 per input element); activations, additions, SE gating and max-pooling are
not counted.

The analytic estimator reproduces that convention from :func:`nas.blocks.block_specs`, without
building a module, so the search can reject over-budget candidates in microseconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from .specs import BlockSpec, block_specs, conv_out, stage_block_specs
from ..arch.genotype import Genotype, Stage
from ..units import FLOPS_CONVENTION  # noqa: F401 - public here too (nas.FLOPS_CONVENTION)

if TYPE_CHECKING:
    from ..arch.space import SearchSpace



@dataclass
class Cost:
    params: int
    flops: int
    stage_params: list[int] = field(default_factory=list)
    stage_flops: list[int] = field(default_factory=list)
    stem_params: int = 0
    stem_flops: int = 0
    head_params: int = 0  # head conv + classifier
    head_flops: int = 0


class _Tally:
    """Accumulates params and FLOPs of conv/BN/pool/linear layers at a given spatial size."""

    def __init__(self) -> None:
        self.params = 0
        self.flops = 0

    def conv_bn(self, in_ch: int, out_ch: int, k: int, size: int, stride: int = 1,
                groups: int = 1) -> int:
        out = conv_out(size, k, stride)
        self.params += (in_ch // groups) * k * k * out_ch + 2 * out_ch
        self.flops += out * out * out_ch * (in_ch // groups) * k * k + 2 * out * out * out_ch
        return out

    def se(self, ch: int, squeeze: int, size: int) -> None:
        self.params += ch * squeeze + squeeze + squeeze * ch + ch
        self.flops += size * size * ch + ch * squeeze + squeeze * ch

    def linear(self, in_f: int, out_f: int) -> None:
        self.params += in_f * out_f + out_f
        self.flops += in_f * out_f


def _block(t: _Tally, s: BlockSpec, size: int) -> int:
    if s.cell == "mb":
        if s.has_expand:
            t.conv_bn(s.in_channels, s.mid_channels, 1, size)
        out = t.conv_bn(s.mid_channels, s.mid_channels, s.kernel, size, s.stride, s.mid_channels)
        if s.se_channels:
            t.se(s.mid_channels, s.se_channels, out)
        t.conv_bn(s.mid_channels, s.out_channels, 1, out)
    elif s.cell == "fmb":
        width = s.mid_channels if s.has_expand else s.out_channels
        out = t.conv_bn(s.in_channels, width, s.kernel, size, s.stride)
        if s.se_channels:
            t.se(width, s.se_channels, out)
        if s.has_expand:
            t.conv_bn(s.mid_channels, s.out_channels, 1, out)
    elif s.cell == "res":
        out = t.conv_bn(s.in_channels, s.out_channels, s.kernel, size, s.stride)
        t.conv_bn(s.out_channels, s.out_channels, s.kernel, out)
    else:  # resb
        t.conv_bn(s.in_channels, s.mid_channels, 1, size)
        out = t.conv_bn(s.mid_channels, s.mid_channels, s.kernel, size, s.stride)
        t.conv_bn(s.mid_channels, s.out_channels, 1, out)
    if s.shortcut == "projection":
        t.conv_bn(s.in_channels, s.out_channels, 1, size, s.stride)
    return out


def estimate_cost(g: Genotype) -> Cost:
    """Params and fvcore-convention FLOPs from the genotype alone (no module is built)."""
    stem = _Tally()
    size = stem.conv_bn(g.in_channels, g.stem.channels, g.stem.kernel, g.resolution, g.stem.stride)
    if g.stem.pool:
        size = conv_out(size, 3, 2)
    stage_tallies = [_Tally() for _ in g.stages]
    for spec in block_specs(g):
        size = _block(stage_tallies[spec.stage_index], spec, size)
    head = _Tally()
    head.params, head.flops = head_cost(g.head.channels, g.stages[-1].channels, g.num_classes, size,
                                        g.head.hidden)
    parts = [stem, *stage_tallies, head]
    return Cost(params=sum(p.params for p in parts), flops=sum(p.flops for p in parts),
                stage_params=[t.params for t in stage_tallies],
                stage_flops=[t.flops for t in stage_tallies],
                stem_params=stem.params, stem_flops=stem.flops,
                head_params=head.params, head_flops=head.flops)


def stage_cost(stage: Stage, in_channels: int, size: int) -> tuple[int, int, int]:
    """(params, FLOPs, output size) of one stage given its input channels and spatial size."""
    t = _Tally()
    for spec in stage_block_specs(stage, 0, in_channels):
        size = _block(t, spec, size)
    return t.params, t.flops, size


def head_cost(head_channels: int, features: int, num_classes: int, size: int, hidden: int = 0) -> tuple[int, int]:
    """(params, FLOPs) of the optional 1x1 head conv, the global average pool, the optional
    hidden linear layer and the classifier."""
    t = _Tally()
    if head_channels:
        t.conv_bn(features, head_channels, 1, size)
        features = head_channels
    t.flops += size * size * features  # global average pool: 1 per input element
    if hidden:
        t.linear(features, hidden)
        features = hidden
    t.linear(features, num_classes)
    return t.params, t.flops


def space_min_cost(space: "SearchSpace", in_channels: int, num_classes: int) -> tuple[int, int]:
    """Smallest params and smallest FLOPs of any genotype in ``space`` (exact, by dynamic programming).

    A stage's cost depends only on its own choices, its input channels (the previous stage's
    output) and the spatial size (fixed by strides), so a DP over output channels is exact.
    Params and FLOPs are minimised separately.
    """
    best = [math.inf, math.inf]
    for resolution in space.resolutions:
        stem = _Tally()
        size = stem.conv_bn(in_channels, space.stem.channels, space.stem.kernel, resolution,
                            space.stem.stride)
        if space.stem.pool:
            size = conv_out(size, 3, 2)
        frontier = {space.stem.channels: (stem.params, stem.flops)}
        for choices in space.stages:
            nxt: dict[int, tuple[float, float]] = {}
            out_size = size
            for option in choices.options():
                for cin, (p0, f0) in frontier.items():
                    p, f, out_size = stage_cost(option, cin, size)
                    bp, bf = nxt.get(option.channels, (math.inf, math.inf))
                    nxt[option.channels] = (min(bp, p0 + p), min(bf, f0 + f))
            frontier, size = nxt, out_size
        for features, (p0, f0) in frontier.items():
            hp, hf = head_cost(space.head.channels, features, num_classes, size)
            best = [min(best[0], p0 + hp), min(best[1], f0 + hf)]
    return int(best[0]), int(best[1])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _fvcore_analysis(model: nn.Module, resolution: int, in_channels: int):  # noqa: ANN202
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.zeros(1, in_channels, resolution, resolution, device=device)
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.total()  # run the trace now, in eval mode
    model.train(was_training)
    return analysis


def count_flops(model: nn.Module, resolution: int | None = None, in_channels: int | None = None) -> int:
    """fvcore FLOPs of a built model (eval mode, batch 1); resolution defaults to its genotype's."""
    g: Genotype | None = getattr(model, "genotype", None)
    resolution = resolution or (g.resolution if g else 224)
    in_channels = in_channels or (g.in_channels if g else 3)
    with torch.no_grad():
        return int(_fvcore_analysis(model, resolution, in_channels).total())


def measure_cost(model: nn.Module) -> Cost:
    """fvcore per-stage breakdown of a :class:`nas.builder.Network` (same fields as the estimate)."""
    g: Genotype = model.genotype  # type: ignore[assignment]
    with torch.no_grad():
        by_module = _fvcore_analysis(model, g.resolution, g.in_channels).by_module()
    def params_of(prefix: str) -> int:
        return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))
    n = len(g.stages)
    head_params = params_of("head.") + params_of("classifier.")
    return Cost(
        params=count_params(model), flops=int(by_module[""]),
        stage_params=[params_of(f"stages.{i}.") for i in range(n)],
        stage_flops=[int(by_module[f"stages.{i}"]) for i in range(n)],
        stem_params=params_of("stem."), stem_flops=int(by_module["stem"]),
        head_params=head_params,
        head_flops=int(by_module["head"] + by_module["pool"] + by_module["classifier"]))
