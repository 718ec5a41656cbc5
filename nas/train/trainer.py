"""Brief training of one candidate, with the whole dataset living on the device (airbench-style).

Batches are index slices of device tensors; augmentation (random crop with padding, horizontal
flip where the dataset allows it) runs as tensor ops on the device; the model runs channels_last
(x1.23 CPU throughput for these nets, BENCHMARKS.md §1), under bf16 autocast on CUDA, where
the step is captured once as a CUDA graph and replayed (nas.train.cuda_graph, §14). SGD with Nesterov
momentum, label smoothing and a one-cycle schedule whose progress is steps done or, with a time
budget, time spent. Before evaluation BatchNorm statistics are recomputed on training batches:
after a few epochs the running averages still remember the untrained network (measured: 9.8%
validation accuracy without, 96% with, on digits after 3 epochs). The step is not
``torch.compile``d: every candidate is a new network, and on the CPU compiling its step cost
5-15 s against 0.4-3.2 s for its whole 1-epoch training, for a step x0.73-x1.17 as fast (two runs)
(``python -m bench.compile_step``, BENCHMARKS.md §14; on CUDA not measured yet).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..model.builder import build_model
from .config import CandidateFailed, TrainConfig, TrainResult  # noqa: F401 - public here too
from .data import Dataset
from .device_data import DeviceData, augment  # noqa: F401 - public here too
from .cuda_graph import GraphedSteps
from .signals import Signals, loss_signals
from .zero_cost import zero_cost_signals
from .thread_loan import TrainingThreads
from .side_by_side import SETUP, check_stop
from .epoch_lines import report_epoch
from ..arch.genotype import Genotype


def select_device(preference: str = "auto") -> torch.device:
    """``auto``: the first CUDA GPU when there is one, else the CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def recalibrate_batchnorm(model: nn.Module, batches: list[torch.Tensor], autocast: Callable) -> None:
    """Recompute BN running statistics as an exact average over ``batches`` (momentum=None)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not batches:
        return
    saved = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad(), autocast():
        for xb in batches:
            model(xb)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


@torch.no_grad()
def predict(model: nn.Module, dd: DeviceData, cfg: TrainConfig, autocast: Callable) -> torch.Tensor:
    """Predicted class of every validation image, in eval mode (per-image results let the
    benchmarks bootstrap over the validation set)."""
    model.eval()
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    preds = []
    for start in range(0, len(dd.y_val), cfg.eval_batch_size):
        xb = dd.normalise(dd.x_val[start:start + cfg.eval_batch_size]).contiguous(memory_format=memory)
        with autocast():
            preds.append(model(xb).argmax(1))
    return torch.cat(preds)


def evaluate(model: nn.Module, dd: DeviceData, cfg: TrainConfig, autocast: Callable) -> float:
    """Validation accuracy (one host sync)."""
    return (predict(model, dd, cfg, autocast) == dd.y_val).sum().item() / len(dd.y_val)


def evaluate_with_loss(model: nn.Module, dd: DeviceData, cfg: TrainConfig, autocast: Callable) -> tuple[float, float]:
    """Validation accuracy and mean cross-entropy (one host sync)."""
    model.eval()
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    correct = torch.zeros((), device=dd.y_val.device)
    loss = torch.zeros((), device=dd.y_val.device, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(dd.y_val), cfg.eval_batch_size):
            xb = dd.normalise(dd.x_val[start:start + cfg.eval_batch_size]).contiguous(memory_format=memory)
            yb = dd.y_val[start:start + cfg.eval_batch_size]
            with autocast():
                logits = model(xb)
            correct += (logits.argmax(1) == yb).sum()
            loss += F.cross_entropy(logits.float(), yb, reduction="sum").double()
    both = torch.stack([correct.double(), loss]).tolist()
    return both[0] / len(dd.y_val), both[1] / len(dd.y_val)


def autocast_for(device: torch.device, cfg: TrainConfig, cache: bool = True) -> Callable[[], torch.autocast]:
    """The trainer's precision context: bf16 autocast on CUDA when ``cfg.bf16``, fp32 elsewhere
    (bf16 on this CPU was slower for depthwise convolutions, BENCHMARKS.md §1). ``cache=False``
    for a step captured as a CUDA graph."""
    enabled = cfg.bf16 and device.type == "cuda"
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled,
                                  cache_enabled=cache)


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.SGD:
    """SGD with Nesterov momentum; no weight decay on biases and BatchNorm parameters."""
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                            {"params": no_decay, "weight_decay": 0.0}],
                           lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                           fused=device.type in ("cpu", "cuda"))  # one kernel for all parameters: ~3% a step on CPU


def training_batch(dd: DeviceData, idx: torch.Tensor, gen: torch.Generator,
                   memory: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor]:
    """The augmented images and labels of the batch ``idx``."""
    xb = augment(dd.normalise(dd.x_train[idx]), dd.pad, dd.flip, gen).contiguous(memory_format=memory)
    return xb, dd.y_train[idx]


def optimise(model: nn.Module, opt: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
             label_smoothing: float, autocast: Callable) -> torch.Tensor:
    """One SGD step on the batch ``(xb, yb)``; returns the loss (no host sync)."""
    with autocast():
        loss = F.cross_entropy(model(xb), yb, label_smoothing=label_smoothing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach().float()


def sgd_step(model: nn.Module, opt: torch.optim.Optimizer, dd: DeviceData, idx: torch.Tensor,
             cfg: TrainConfig, gen: torch.Generator, memory: torch.memory_format,
             autocast: Callable) -> torch.Tensor:
    """One augmented training step on the batch ``idx``; returns the loss (no host sync)."""
    return optimise(model, opt, *training_batch(dd, idx, gen, memory), cfg.label_smoothing, autocast)


def one_cycle(progress: float, warmup: float) -> float:
    """LR multiplier: linear warm-up from 0.1 to 1, then linear decay to 0."""
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return max(0.0, (1.0 - progress) / (1.0 - warmup))


def train_candidate(genotype: Genotype, data: Dataset, cfg: TrainConfig,
                    device: torch.device | str = "auto",
                    report: Callable[[int, float], bool] | None = None,
                    keep_model: bool = False) -> TrainResult:
    """Train ``genotype`` briefly on ``data`` and return its validation accuracy.

    ``report(epoch, accuracy)`` is called after each whole epoch when given (with BN statistics
    recalibrated first); returning True stops training early (a pruner's decision).
    Raises :class:`CandidateFailed` for non-finite losses.
    """
    start_total = time.perf_counter()
    device = select_device(device) if isinstance(device, str) else device
    if cfg.epochs is None and cfg.time_budget is None:
        raise ValueError("give epochs or time_budget")
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    dd = DeviceData.get(data, genotype.resolution, device)
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    with SETUP:  # seeded weights and the zero-cost pass, whatever trains beside (nas.train.side_by_side)
        torch.manual_seed(cfg.seed)
        model = build_model(genotype).to(device=device, memory_format=memory)
        at_init = zero_cost_signals(model, dd, cfg.seed, memory) if cfg.zero_cost else {}
    autocast = autocast_for(device, cfg)

    n = len(dd.y_train)
    bs = min(cfg.batch_size, n)
    steps_per_epoch = max(1, n // bs)
    total_steps = math.ceil(steps_per_epoch * cfg.epochs) if cfg.epochs is not None else None
    peak_lr = cfg.lr
    opt = make_optimizer(model, cfg, device)

    step, epoch, seen = 0, 0, 0
    loss_sum = torch.zeros((), device=device)
    step_losses: list[torch.Tensor] = []  # every step's loss, read once at the end (TSE signals)
    epoch_losses: list[float] = []
    epoch_accs: list[float] = []
    t0 = time.perf_counter()
    finished = False
    threads = TrainingThreads(device)
    graphs = None
    if cfg.cuda_graphs and device.type == "cuda":
        uncached = autocast_for(device, cfg, cache=False)
        graphs = GraphedSteps(lambda xb, yb: optimise(model, opt, xb, yb, cfg.label_smoothing, uncached), opt)
    try:
        while not finished:
            model.train()
            perm = torch.randperm(n, device=device, generator=gen)
            loss_sum.zero_()
            batches_this_epoch = 0
            for b in range(steps_per_epoch):
                elapsed = time.perf_counter() - t0
                progress = step / total_steps if total_steps else 0.0
                if cfg.time_budget:
                    progress = max(progress, elapsed / cfg.time_budget)
                if progress >= 1.0:
                    finished = True
                    break
                for group in opt.param_groups:
                    group["lr"] = peak_lr * one_cycle(progress, cfg.warmup_fraction)
                threads.follow()  # one thread fewer while the next trial is sampled beside us
                check_stop()  # the grouped loop that asked for this has ended
                idx = perm[b * bs:(b + 1) * bs]
                if graphs is None:
                    loss = sgd_step(model, opt, dd, idx, cfg, gen, memory, autocast)
                elif graphs.warming:
                    loss = graphs.warmup(lambda: sgd_step(model, opt, dd, idx, cfg, gen, memory, autocast))
                else:
                    loss = graphs(*training_batch(dd, idx, gen, memory)).clone()  # the graph reuses its output
                loss_sum += loss
                step_losses.append(loss)
                step += 1
                batches_this_epoch += 1
                seen += len(idx)
                if step % 25 == 0 and not torch.isfinite(loss_sum):
                    raise CandidateFailed(f"non-finite training loss at epoch {epoch + 1}, step {step}")
            if batches_this_epoch:
                mean_loss = (loss_sum / batches_this_epoch).item()
                if not math.isfinite(mean_loss):
                    raise CandidateFailed(f"non-finite training loss at epoch {epoch + 1}")
                epoch_losses.append(mean_loss)
            if batches_this_epoch == steps_per_epoch:
                epoch += 1
                report_epoch(epoch, cfg.epochs, cfg.time_budget, epoch_losses[-1], time.perf_counter() - t0)
                if report is not None and not finished:
                    recalibrate_from_training_data(model, dd, cfg, gen, memory, autocast)
                    acc = evaluate(model, dd, cfg, autocast)
                    epoch_accs.append(acc)
                    if report(epoch, acc):
                        finished = True
            if total_steps is not None and step >= total_steps:
                finished = True
    finally:
        threads.restore()
        if graphs is not None:
            graphs.release()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    train_time = time.perf_counter() - t0
    recalibrate_from_training_data(model, dd, cfg, gen, memory, autocast)
    acc, val_loss = evaluate_with_loss(model, dd, cfg, autocast)
    if report is not None and (not epoch_accs or epoch_accs[-1] != acc):
        epoch_accs.append(acc)
    signals = Signals.from_dict({**at_init, "val_accuracy": acc, "val_loss": val_loss,
                                 **loss_signals(torch.stack(step_losses).tolist() if step_losses else [])})
    return TrainResult(
        val_accuracy=acc, train_loss=epoch_losses[-1] if epoch_losses else float("nan"),
        train_time=train_time, total_time=time.perf_counter() - start_total,
        images_per_sec=seen / train_time if train_time > 0 else 0.0,
        epochs=step / steps_per_epoch, device=str(device), epoch_accuracies=epoch_accs,
        model=model if keep_model else None, signals=signals)


def recalibrate_from_training_data(model: nn.Module, dd: DeviceData, cfg: TrainConfig,
                                   gen: torch.Generator, memory: torch.memory_format,
                                   autocast: Callable) -> None:
    """BN recalibration on ``cfg.bn_recalibration_batches`` random, unaugmented training batches."""
    if cfg.bn_recalibration_batches <= 0:
        model.eval()
        return
    n = len(dd.y_train)
    bs = min(cfg.batch_size, n)
    perm = torch.randperm(n, device=dd.x_train.device, generator=gen)
    count = min(cfg.bn_recalibration_batches, max(1, n // bs))
    batches = [dd.normalise(dd.x_train[perm[i * bs:(i + 1) * bs]]).contiguous(memory_format=memory)
               for i in range(count)]
    recalibrate_batchnorm(model, batches, autocast)
