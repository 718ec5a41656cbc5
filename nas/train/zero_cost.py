"""Zero-cost signals of an untrained network, on one training batch (nas.train.signals says what
each means and why they are recorded).

They are computed on a copy of the freshly initialised network, with a generator of their own, so
that the training that follows is exactly what it would be without them (the same weights, batch
order and augmentation: tests/test_signals.py). NASWOT, the gradient norm and snip share one
forward and backward pass on a batch of unaugmented training images in training mode; synflow
makes one more on the same copy (its BatchNorm statistics reset to initialisation's), on all-ones
input with every weight replaced by its absolute value and BatchNorm in eval mode, in float32
(float64 where that overflows).
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
from .side_by_side import SETUP
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
        net = copy.deepcopy(model)  # one copy for both: the model that trains is never touched
        out = _gradient_signals(net, xb, dd.y_train[idx])
        for m in net.modules():  # the training-mode pass moved BatchNorm's running statistics:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # back to initialisation's for synflow
                m.reset_running_stats()
        synflow = _synflow(net, tuple(xb.shape[1:]), device)
    if synflow is not None:
        out["synflow"] = synflow
    out["zero_cost_seconds"] = time.perf_counter() - start
    return out


def _gradient_signals(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> dict[str, float]:
    """NASWOT's log-determinant, the gradient norm and snip from one forward and backward pass."""
    net.train()
    kernel = torch.zeros(len(xb), len(xb), dtype=torch.float64, device=xb.device)

    def codes(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        # before the activation runs (they work in place): which units it will let through.
        # Mellor et al.'s kernel counts the units two images agree on, c c' + (1 - c)(1 - c'),
        # which is D - r - r' + 2 c c' (D units, r and r' the active counts): one product, in
        # float32, exact (sums of 0/1 below 2^24; TF32 keeps 0 and 1 exact too).
        c = (inputs[0].detach().flatten(1) > 0).to(torch.float32)
        active = c.sum(1).double()
        kernel.add_(2 * (c @ c.T).double() - active[:, None] - active[None, :] + c.shape[1])

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
    """log10 of the summed |weight x d(sum of outputs)/d(weight)| with all weights made positive:
    in float32 (a third of float64's time on a CPU), again in float64 where that overflows."""
    net = net.eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    for dtype in (torch.float32, torch.float64):
        net = net.to(dtype)
        net.zero_grad(set_to_none=True)
        net(torch.ones((1, *shape), dtype=dtype, device=device)).sum().backward()
        total = float(sum((p.detach().double() * p.grad.double()).abs().sum()
                          for p in net.parameters() if p.grad is not None))
        if total > 0 and math.isfinite(total):
            return math.log10(total)
    return None


def signals_at_init(genotype: "Genotype", data: "Dataset", cfg: "TrainConfig", device: torch.device) -> Signals:
    """The zero-cost signals of ``genotype`` as the trainer would initialise it (``cfg.seed``),
    without training it: a search that scores candidates at initialisation (``--signal synflow``)."""
    from ..model.builder import build_model

    dd = DeviceData.get(data, genotype.resolution, device)
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    with SETUP:  # seeded weights and the forked random state, whatever runs beside (nas.train.side_by_side)
        torch.manual_seed(cfg.seed)
        model = build_model(genotype).to(device=device, memory_format=memory)
        return Signals.from_dict(zero_cost_signals(model, dd, cfg.seed, memory))
