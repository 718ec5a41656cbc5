"""How much device memory training one candidate takes: an estimate made without a device.

A grouped search (``--group K``, :mod:`nas.study.run.group_size`) puts K candidates in training
on one GPU at once. Whether K fit is decided before anything starts, from the largest candidate
of the space: its activations are counted by running its network on PyTorch's ``meta`` device
(shapes only, no memory, no arithmetic), every leaf module's output being kept for the backward
pass, at fp32 (bf16 autocast keeps many of them at half that: the estimate errs high); its
parameters are held four times over (weights, gradients, momentum, and the CUDA graph's pool).
"""

from __future__ import annotations

import torch
from torch import nn

from ..arch.genotype import Genotype
from ..arch.space import SearchSpace
from .builder import build_model
from .cost import stage_cost
from .specs import conv_out

BYTES_PER_VALUE = 4  # fp32
PARAMETER_COPIES = 4  # weights, gradients, momentum buffers, the graph's static copies


def activation_values(genotype: Genotype) -> int:
    """Values every leaf module outputs for one image: what a training step keeps for backward."""
    with torch.device("meta"):
        model = build_model(genotype).train()
        total = 0

        def count(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            nonlocal total
            total += output.numel()

        hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
        try:
            model(torch.empty(1, genotype.in_channels, genotype.resolution, genotype.resolution))
        finally:
            for hook in hooks:
                hook.remove()
    return total


def training_bytes(genotype: Genotype, batch_size: int) -> int:
    """Estimated device memory to train ``genotype`` at ``batch_size`` (see the module)."""
    with torch.device("meta"):
        params = sum(p.numel() for p in build_model(genotype).parameters())
    return BYTES_PER_VALUE * (batch_size * activation_values(genotype) + PARAMETER_COPIES * params)


def largest_genotype(space: SearchSpace, in_channels: int, num_classes: int) -> Genotype:
    """The space's costliest network, stage by stage: at its largest resolution, each stage the
    option with the most FLOPs on the channels the stage before gave it."""
    resolution = max(space.resolutions)
    size = conv_out(resolution, space.stem.kernel, space.stem.stride)
    if space.stem.pool:
        size = conv_out(size, 3, 2)
    channels, stages = space.stem.channels, []
    for choices in space.stages:
        costs = [(stage_cost(option, channels, size), option) for option in choices.options()]
        (_, _, size), stage = max(costs, key=lambda c: (c[0][1], c[0][0]))
        stages.append(stage)
        channels = stage.channels
    return space.genotype(tuple(stages), resolution, in_channels, num_classes, name="largest")
