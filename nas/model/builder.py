"""One builder: genotype in, ``nn.Module`` out (the role of timm's EfficientNetBuilder)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .specs import block_specs
from .cells import activation, conv_bn, make_block
from ..arch.genotype import Genotype
from ..arch.rounding import scale_genotype


class Network(nn.Module):
    """Stem, stages, optional 1x1 head conv, global pool, optional hidden linear layer (+ the
    head's activation; MobileNetV3), dropout, classifier.

    Module names (``stem``, ``stages.<i>``, ``head``, ``classifier``) are stable: the cost model
    reports FLOPs per stage by them.
    """

    def __init__(self, genotype: Genotype) -> None:
        super().__init__()
        g = genotype
        self.genotype = g
        stem: list[nn.Module] = list(conv_bn(g.in_channels, g.stem.channels, g.stem.kernel,
                                             g.stem.stride, act=g.stem.activation))
        if g.stem.pool:
            stem.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.stem = nn.Sequential(*stem)
        specs = block_specs(g)
        self.stages = nn.Sequential(*[
            nn.Sequential(*[make_block(s) for s in specs if s.stage_index == i])
            for i in range(len(g.stages))])
        features = g.stages[-1].channels
        if g.head.channels:
            self.head: nn.Module = conv_bn(features, g.head.channels, 1, act=g.head.activation)
            features = g.head.channels
        else:
            self.head = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        if g.head.hidden:
            self.hidden: nn.Module = nn.Sequential(nn.Linear(features, g.head.hidden), activation(g.head.activation))
            features = g.head.hidden
        else:
            self.hidden = nn.Identity()  # no parameters: older state_dicts load unchanged
        self.dropout = nn.Dropout(g.head.dropout)
        self.classifier = nn.Linear(features, g.num_classes)
        self.num_features = features
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(self.hidden(torch.flatten(self.pool(x), 1))))


def _init_weights(model: nn.Module) -> None:
    """torchvision's EfficientNet initialisation (fan-out normal convs, uniform classifier)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


def build_model(genotype: Genotype, width_mult: float = 1.0, depth_mult: float = 1.0,
                resolution: int | None = None) -> Network:
    """Build the exact network a genotype describes, compound-scaled if multipliers are given.

    Scaling uses EfficientNet's rules (channels to multiples of 8, never below 90% of the
    scaled value; repeats rounded up); the scaled genotype is kept as ``model.genotype``.
    """
    g = scale_genotype(genotype, width_mult, depth_mult, resolution)
    return Network(g)


__all__ = ["Network", "build_model", "activation"]
