"""Zero-cost signals of an untrained network, on one training batch (nas.train.signals says what
each means and why they are recorded).

They are computed on a copy of the freshly initialised network, with a generator of their own, so
that the training that follows is exactly what it would be without them (the same weights, batch
order and augmentation: tests/test_signals.py). NASWOT, the gradient norm and snip share one
forward and backward pass on a batch of unaugmented training images in training mode; synflow
makes one more, in float64 on all-ones input with every weight replaced by its absolute value and
BatchNorm in eval mode.
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .device_data import DeviceData
from .signals import Signals

if TYPE_CHECKING:
    from ..arch.genotype import Genotype
    from .config import TrainConfig
    from .data import Dataset

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish)
BATCH = 64  # images: NASWOT's kernel is BATCH x BATCH (Mellor et al. used 128; 64 is the trainer's batch)


def zero_cost_signals(model: nn.Module, dd: DeviceData, seed: int,
                      memory: torch.memory_format = torch.contiguous_format) -> dict[str, float]:
    """synflow, naswot, grad_norm, snip and what they cost together (``zero_cost_seconds``);
    a signal that cannot be computed (a degenerate kernel) is left out."""
    start = time.perf_counter()
    device = dd.x_train.device
    gen = torch.Generator(device=device)
    gen.manual_seed(seed + 7919)  # its own stream: training's generator is not touched
    idx = torch.randperm(len(dd.y_train), device=device, generator=gen)[:BATCH]
    xb = dd.normalise(dd.x_train[idx]).contiguous(memory_format=memory)
    # dropout in training mode draws from the global generator: training's must not move
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        out = _gradient_signals(copy.deepcopy(model), xb, dd.y_train[idx])
        synflow = _synflow(copy.deepcopy(model), tuple(xb.shape[1:]), device)
    if synflow is not None:
        out["synflow"] = synflow
    out["zero_cost_seconds"] = time.perf_counter() - start
    return out


def _gradient_signals(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> dict[str, float]:
    """NASWOT's log-determinant, the gradient norm and snip from one forward and backward pass."""
    net.train()
    kernel = torch.zeros(len(xb), len(xb), dtype=torch.float64, device=xb.device)

    def codes(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        # before the activation runs (they work in place): which units it will let through
        c = (inputs[0].detach().flatten(1) > 0).to(torch.float64)
        kernel.add_(c @ c.T).add_((1 - c) @ (1 - c).T)

    hooks = [m.register_forward_pre_hook(codes) for m in net.modules() if isinstance(m, ACTIVATIONS)]
    try:
        loss = F.cross_entropy(net(xb), yb)
    finally:
        for hook in hooks:
            hook.remove()
    loss.backward()
    params = [p for p in net.parameters() if p.grad is not None]
    out = {"grad_norm": float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)))}
    snip = float(sum((p.grad.double() * p.detach().double()).abs().sum() for p in params))
    if snip > 0 and math.isfinite(snip):
        out["snip"] = math.log10(snip)
    sign, logdet = torch.linalg.slogdet(kernel)
    if hooks and sign > 0 and torch.isfinite(logdet):
        out["naswot"] = float(logdet)
    return out


def _synflow(net: nn.Module, shape: tuple[int, ...], device: torch.device) -> float | None:
    """log10 of the summed |weight x d(sum of outputs)/d(weight)| with all weights made positive."""
    net = net.to(torch.float64).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones((1, *shape), dtype=torch.float64, device=device)).sum().backward()
    total = float(sum((p.detach() * p.grad).abs().sum() for p in net.parameters() if p.grad is not None))
    return math.log10(total) if total > 0 and math.isfinite(total) else None


def signals_at_init(genotype: "Genotype", data: "Dataset", cfg: "TrainConfig", device: torch.device) -> Signals:
    """The zero-cost signals of ``genotype`` as the trainer would initialise it (``cfg.seed``),
    without training it: a search that scores candidates at initialisation (``--signal synflow``)."""
    from ..model.builder import build_model

    torch.manual_seed(cfg.seed)
    dd = DeviceData.get(data, genotype.resolution, device)
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = build_model(genotype).to(device=device, memory_format=memory)
    return Signals.from_dict(zero_cost_signals(model, dd, cfg.seed, memory))
