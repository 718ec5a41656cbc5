"""Training that can be extended: one candidate trained rung by rung (successive halving).

The one-cycle schedule of :func:`nas.train.trainer.train_candidate` ends at zero learning rate,
so a network trained for 3 epochs cannot simply go on to 9: it would restart from a cooled-down
point with a schedule that no from-scratch run follows. This module uses a
**warmup-stable-decay** schedule instead (a linear warm-up over the first
``warmup_fraction x min_epochs``, then the peak rate, then a linear cool-down to zero over the
last ``cooldown`` share of the budget). The cool-down is a *branch*: to score a rung the run
saves its stable state, cools down, recalibrates BatchNorm and evaluates, then goes back to the
saved state. Continuing to the next rung therefore resumes the exact stable trajectory (weights,
momentum buffers, step, data order and random streams), so a candidate continued from 3 to 9
epochs is the same network, to the last bit on a deterministic device, as one trained from
scratch to 9 epochs with this schedule. What continuing costs over the extra epochs is the
cool-down of each rung it passes (``cooldown x`` that rung's epochs).

A checkpoint file (``torch.save`` of tensors and numbers, read back with ``weights_only=True``)
holds the stable state after every epoch and every rung's result, so a run killed mid-rung
resumes from its last finished epoch: only the epoch in progress is trained again.

On CUDA the step is captured once as a CUDA graph and replayed, as in
:func:`nas.train.trainer.train_candidate` (x3.8-x13 per step on an H100, BENCHMARKS.md §14); the
cool-down branch is therefore undone *in place* (weights and momentum buffers copied back into
the tensors the graph was captured with), never by swapping in new tensors.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..arch.genotype import Genotype
from ..model.builder import build_model
from .data import Dataset
from .device_data import DeviceData
from .side_by_side import SETUP, check_stop
from .signals import Signals, loss_signals
from .cuda_graph import GraphedSteps
from .trainer import (CandidateFailed, TrainConfig, autocast_for, evaluate_with_loss, make_optimizer, optimise,
                      recalibrate_from_training_data, select_device, sgd_step, training_batch)


@dataclass(frozen=True)
class StableDecay:
    """The warmup-stable-decay schedule of an extendable run."""

    warmup_epochs: float  # warm-up length, fixed whatever the budget (0.15 x the first rung)
    # Cool-down share of each rung's budget: 0.2 (BENCHMARKS.md §11, bench/continuation).
    cooldown: float = 0.2

    def multiplier(self, step: int, warmup_steps: int, stable_end: int, end: int) -> float:
        """LR multiplier at ``step``: warm-up from 0.1 to 1, the peak, then linear decay to 0 at ``end``."""
        if step >= stable_end:
            return max(0.0, (end - step) / max(1, end - stable_end))
        if step < warmup_steps:
            return 0.1 + 0.9 * step / warmup_steps
        return 1.0


@dataclass
class RungResult:
    epochs: float  # the rung's budget
    accuracy: float  # validation accuracy after the rung's cool-down
    train_loss: float
    resumed: bool = False  # read back from the checkpoint, not trained by this process
    # the signals after the rung (nas.train.signals: validation accuracy and loss, TSE over every
    # step of the rung's trajectory, its cool-down included): what a rung can rank on
    signals: Signals | None = None


class ExtendableRun:
    """One candidate's training, advanced rung by rung with :meth:`train_to`."""

    def __init__(self, genotype: Genotype, data: Dataset, cfg: TrainConfig,
                 device: torch.device | str, schedule: StableDecay,
                 checkpoint: Path | None = None) -> None:
        self.device = select_device(device) if isinstance(device, str) else device
        self.cfg, self.schedule, self.checkpoint = cfg, schedule, checkpoint
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.seed)
        self.dd = DeviceData.get(data, genotype.resolution, self.device)
        self.memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
        with SETUP:  # seeded weights, whatever trains beside (nas.train.side_by_side)
            torch.manual_seed(cfg.seed)
            self.model = build_model(genotype).to(device=self.device, memory_format=self.memory)
        self.opt = make_optimizer(self.model, cfg, self.device)
        self.autocast = autocast_for(self.device, cfg)
        self.graphs = None  # the step captured once and replayed on CUDA (nas.train.cuda_graph), as train_candidate
        if cfg.cuda_graphs and self.device.type == "cuda":
            uncached = autocast_for(self.device, cfg, cache=False)
            self.graphs = GraphedSteps(lambda xb, yb: optimise(self.model, self.opt, xb, yb, cfg.label_smoothing,
                                                               uncached), self.opt)
        n = len(self.dd.y_train)
        self.batch_size = min(cfg.batch_size, n)
        self.steps_per_epoch = max(1, n // self.batch_size)
        self.warmup_steps = max(1, round(schedule.warmup_epochs * self.steps_per_epoch))
        self.step = 0  # position on the stable trajectory
        self.step_losses: list[float] = []  # the stable trajectory's, one per step (TSE signals)
        self.perm: torch.Tensor | None = None  # this epoch's data order
        self.results: dict[str, RungResult] = {}
        self.steps_trained = 0  # by this process, cool-downs included: what this run cost
        self.train_time = 0.0
        self.images = 0
        if checkpoint is not None and checkpoint.exists():
            self._load(checkpoint)
        self.resumed_from_epochs = self.step / self.steps_per_epoch

    # ----- the schedule ---------------------------------------------------------------------------

    def ends(self, epochs: float) -> tuple[int, int]:
        """(last stable step, last step) of a rung of ``epochs``."""
        end = max(1, round(epochs * self.steps_per_epoch))
        return max(0, end - max(1, round(self.schedule.cooldown * end))), end

    def continued_past(self, epochs: float) -> bool:
        """True when the stable trajectory already went beyond this rung (it was promoted)."""
        return self.step > self.ends(epochs)[0]

    @property
    def epochs_trained(self) -> float:
        return self.steps_trained / self.steps_per_epoch

    # ----- training -------------------------------------------------------------------------------

    def train_to(self, epochs: float) -> RungResult:
        """Train to a rung of ``epochs`` and score it; the run stays on its stable trajectory."""
        key = f"{epochs:g}"
        if key in self.results:
            return self.results[key]
        stable_end, end = self.ends(epochs)
        if self.step > stable_end:
            raise ValueError(f"rung of {epochs:g} epochs is behind this run (step {self.step})")
        self._advance(stable_end, stable_end, end, checkpoint_each_epoch=True)
        stable = self._state()
        self._save()
        loss = self._advance(end, stable_end, end, checkpoint_each_epoch=False)
        recalibrate_from_training_data(self.model, self.dd, self.cfg, self._eval_generator(),
                                       self.memory, self.autocast)
        accuracy, val_loss = evaluate_with_loss(self.model, self.dd, self.cfg, self.autocast)
        signals = Signals(val_accuracy=accuracy, val_loss=val_loss, **loss_signals(self.step_losses))
        self._restore(stable)
        self.results[key] = RungResult(epochs, accuracy, loss, signals=signals)
        self._save()
        return self.results[key]

    def _advance(self, until: int, stable_end: int, end: int, checkpoint_each_epoch: bool) -> float:
        """Train steps up to ``until`` under the schedule of the rung (``stable_end``, ``end``)."""
        cfg, spe, bs = self.cfg, self.steps_per_epoch, self.batch_size
        loss_sum = torch.zeros((), device=self.device)
        losses: list[torch.Tensor] = []  # read once at the end: no sync per step
        count = 0
        t0 = time.perf_counter()
        self.model.train()
        while self.step < until:
            b = self.step % spe
            if b == 0 or self.perm is None:
                self.perm = torch.randperm(len(self.dd.y_train), device=self.device, generator=self.gen)
            lr = cfg.lr * self.schedule.multiplier(self.step, self.warmup_steps, stable_end, end)
            for group in self.opt.param_groups:
                group["lr"] = lr
            idx = self.perm[b * bs:(b + 1) * bs]
            check_stop()  # the grouped loop that asked for this has ended
            loss = self._step(idx)
            loss_sum += loss
            losses.append(loss.detach().float())
            self.step += 1
            self.steps_trained += 1
            count += 1
            self.images += len(idx)
            if count % 25 == 0 and not torch.isfinite(loss_sum):
                raise CandidateFailed(f"non-finite training loss at step {self.step}")
            if checkpoint_each_epoch and self.step % spe == 0 and self.step < until:
                self._keep_losses(losses)  # the checkpoint carries every step's loss so far
                self._save()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.train_time += time.perf_counter() - t0
        self._keep_losses(losses)
        mean = (loss_sum / count).item() if count else float("nan")
        if count and not math.isfinite(mean):
            raise CandidateFailed(f"non-finite training loss at step {self.step}")
        return mean

    def _step(self, idx: torch.Tensor) -> torch.Tensor:
        """One SGD step on the batch ``idx``: eager, or replayed from the captured graph on CUDA."""
        def eager() -> torch.Tensor:
            return sgd_step(self.model, self.opt, self.dd, idx, self.cfg, self.gen, self.memory, self.autocast)

        if self.graphs is None:
            return eager()
        if self.graphs.warming:
            return self.graphs.warmup(eager)
        return self.graphs(*training_batch(self.dd, idx, self.gen, self.memory)).clone()  # the graph reuses its output

    def _keep_losses(self, losses: list[torch.Tensor]) -> None:
        """Move the steps' losses (device tensors) to :attr:`step_losses` with one host sync."""
        if losses:
            self.step_losses += torch.stack(losses).tolist()
            losses.clear()

    def _eval_generator(self) -> torch.Generator:
        """BN recalibration draws from its own stream, so scoring leaves training's untouched."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.cfg.seed + 7919 * (self.step + 1))
        return gen

    # ----- state: in memory for the cool-down branch, on disk for resuming -------------------------

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step,
            "perm": None if self.perm is None else self.perm.cpu(),
            "generator": self.gen.get_state(),
            "cpu_rng": torch.get_rng_state(),
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.opt.state_dict()),
            "step_losses": torch.tensor(self.step_losses, dtype=torch.float64),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.gen.set_state(state["generator"])
        torch.set_rng_state(state["cpu_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.model.load_state_dict(state["model"])  # copies into the parameters: a graph's tensors stay its own
        self._restore_optimizer(state["optimizer"])
        # a checkpoint from before the signals has none: TSE then covers the steps trained since
        self.step_losses = state["step_losses"].tolist() if "step_losses" in state else []

    def _restore_optimizer(self, saved: dict[str, Any]) -> None:
        """The optimizer's state as saved, copied into the momentum buffers it has: a captured
        CUDA graph updates the very tensors it was captured with, and ``load_state_dict`` would
        put new ones in their place (the graph would then train on stale buffers, silently)."""
        params = [p for group in self.opt.param_groups for p in group["params"]]
        if not all(params[int(i)] in self.opt.state for i in saved["state"]) or not saved["state"]:
            self.opt.load_state_dict(saved)  # no buffers yet (before the first step): nothing captured
            return
        for index, buffers in saved["state"].items():
            current = self.opt.state[params[int(index)]]
            for key, value in buffers.items():
                if isinstance(value, torch.Tensor) and isinstance(current.get(key), torch.Tensor):
                    current[key].copy_(value)
                else:
                    current[key] = value
        for group, saved_group in zip(self.opt.param_groups, saved["param_groups"]):
            group.update({k: v for k, v in saved_group.items() if k != "params"})

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        state = self._state()
        state["results"] = {k: [r.epochs, r.accuracy, r.train_loss] for k, r in self.results.items()}
        state["result_signals"] = {k: r.signals.to_dict() for k, r in self.results.items() if r.signals is not None}
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_name(f"{self.checkpoint.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)  # atomic: a kill mid-write leaves the previous checkpoint

    def _load(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        self._restore(state)
        signals = state.get("result_signals", {})
        self.results = {k: RungResult(float(e), float(a), float(l), resumed=True,
                                      signals=Signals.from_dict(signals[k]) if k in signals else None)
                        for k, (e, a, l) in state.get("results", {}).items()}

    def discard_checkpoint(self) -> None:
        """The candidate is finished (stopped or at the top rung): its checkpoint is not needed."""
        if self.checkpoint is not None:
            self.checkpoint.unlink(missing_ok=True)
        if self.graphs is not None:
            self.graphs.release()
