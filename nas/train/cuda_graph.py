"""The training step captured once as a CUDA graph and replayed for every later batch.

Why: the candidates a search trains are small, and on a GPU their eager steps are bound by
Python issuing hundreds of tiny kernels, not by the GPU. On an H100, bare training steps of the
search spaces' reference networks ran x3.8 to x13 faster replayed from a graph than eager at
32 px, and the capture took 0.01-0.03 s (``python -m bench.gpu_steps graphs``, BENCHMARKS.md §14).

What stays outside the graph: choosing and augmenting each batch (they draw from the trainer's
own generator), which is then copied into the graph's fixed input tensors. The learning rate
becomes one device tensor per parameter group, written before each replay, because a graph
replays the numbers it was captured with: fused SGD reads a tensor learning rate from device
memory. The first :data:`WARMUP_STEPS` steps run eagerly on a side stream, as PyTorch's recipe
for capturing a whole network asks, so that the optimizer's momentum buffers and cuDNN's
choices are made before capture. A capture that fails leaves training eager (with a warning),
never a failed candidate. Captures are taken one at a time, in ``thread_local`` error mode,
so that candidates trained side by side (:mod:`nas.train.group`) do not spoil each other's.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from .side_by_side import CAPTURE

WARMUP_STEPS = 3  # eager steps before capture (PyTorch's whole-network capture example uses 3)


class GraphedStep:
    """One captured training step (forward, backward, SGD update) and its fixed inputs."""

    def __init__(self, graph: torch.cuda.CUDAGraph, x: torch.Tensor, y: torch.Tensor,
                 lrs: list[torch.Tensor], loss: torch.Tensor) -> None:
        self.graph, self.x, self.y, self.lrs, self.loss = graph, x, y, lrs, loss

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor, opt: torch.optim.Optimizer) -> torch.Tensor:
        """Train on ``(xb, yb)`` at the learning rates now set in ``opt``'s groups; returns the
        loss (no host sync)."""
        self.x.copy_(xb)
        self.y.copy_(yb)
        for lr, group in zip(self.lrs, opt.param_groups):
            lr.fill_(float(group["lr"]))
        self.graph.replay()
        return self.loss.clone()


Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def capture_step(step: Step, opt: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor) -> GraphedStep | None:
    """Capture ``step`` (one SGD step on a batch, its autocast not caching casts: a graph cannot
    reuse a cache's tensors) on inputs shaped as ``xb``/``yb``; None, with a warning, where
    capture fails. Nothing is trained by capturing."""
    floats = [group["lr"] for group in opt.param_groups]
    lrs = [torch.tensor(float(lr), device=xb.device) for lr in floats]
    x, y = xb.clone(), yb.clone()
    torch.cuda.synchronize(xb.device)
    opt.zero_grad(set_to_none=True)  # the gradients are allocated in the graph's memory
    for group, lr in zip(opt.param_groups, lrs):
        group["lr"] = lr
    graph = torch.cuda.CUDAGraph()
    try:
        # one capture at a time, and one that another thread's work cannot spoil (nas.train.side_by_side)
        with CAPTURE, torch.cuda.graph(graph, capture_error_mode="thread_local"):
            loss = step(x, y)
    except Exception as exc:  # noqa: BLE001 - any capture failure: train on eagerly
        warnings.warn(f"CUDA graph capture failed, training eagerly: {type(exc).__name__}: {exc}", stacklevel=2)
        torch.cuda.synchronize(xb.device)
        opt.zero_grad(set_to_none=True)
        return None
    finally:
        for group, lr in zip(opt.param_groups, floats):
            group["lr"] = lr
    return GraphedStep(graph, x, y, lrs, loss)


class GraphedSteps:
    """A candidate's training steps on CUDA: :data:`WARMUP_STEPS` eager ones on a side stream,
    then one captured step replayed (eager on, where capture failed)."""

    def __init__(self, step: Step, opt: torch.optim.Optimizer) -> None:
        self.step, self.opt = step, opt
        self.warmed = 0
        self.graphed: GraphedStep | None = None
        self.failed = False

    @property
    def warming(self) -> bool:
        return self.warmed < WARMUP_STEPS

    def warmup(self, eager: Callable[[], torch.Tensor]) -> torch.Tensor:
        """One eager step on a side stream, ordered both ways with the trainer's stream."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            loss = eager()
        torch.cuda.current_stream().wait_stream(side)
        self.warmed += 1
        return loss

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if self.graphed is None and not self.failed:
            self.graphed = capture_step(self.step, self.opt, xb, yb)
            self.failed = self.graphed is None
        return self.step(xb, yb) if self.graphed is None else self.graphed(xb, yb, self.opt)

    def release(self) -> None:
        """Drop the graph and the gradients living in its memory once training is over."""
        self.graphed = None
        self.opt.zero_grad(set_to_none=True)
