"""Train many genotypes in parallel worker processes, each with its share of the CPU threads.

The benchmarks that need hundreds of brief trainings (the search-efficiency table, the ranking
study, the scaling ablation) go through here: on this 2-core machine two single-threaded
processes beat one two-threaded process on these small convolutions (two search workers gave
×1.36 at 2-epoch trials, ``bench.workers``), which helps keep ``make bench`` under 30 minutes. Each job trains once
without BN recalibration, evaluates (stale statistics), recalibrates as the search does, and
evaluates again; per-image correctness is returned so that callers can bootstrap over the
validation set. Per-job seconds are wall time with the other process sharing the machine.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from nas.train.data import Dataset
from nas.train.sources import load_dataset
from nas.arch.genotype import Genotype
from nas.train.trainer import (DeviceData, TrainConfig, autocast_for, predict, recalibrate_from_training_data,
                       select_device, train_candidate)


@dataclass(frozen=True)
class Job:
    genotype: str  # JSON
    epochs: float
    seed: int = 0
    dataset: str = "mnist5k"
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr


_datasets: dict[str, Dataset] = {}


def _dataset(name: str) -> Dataset:
    if name not in _datasets:
        _datasets[name] = load_dataset(name)
    return _datasets[name]


def run_job(job: Job) -> dict[str, Any]:
    """Accuracy with stale and with recalibrated BN statistics, from one training run."""
    data = _dataset(job.dataset)
    g = Genotype.from_json(job.genotype)
    device = select_device("auto")
    cfg = TrainConfig(epochs=job.epochs, seed=job.seed, batch_size=job.batch_size, lr=job.lr)
    result = train_candidate(g, data, replace(cfg, bn_recalibration_batches=0), device, keep_model=True)
    dd = DeviceData.get(data, g.resolution, device)
    gen = torch.Generator(device=device).manual_seed(job.seed + 1)
    autocast = autocast_for(device, cfg)
    recalibrate_from_training_data(result.model, dd, cfg, gen, torch.channels_last, autocast)
    correct = (predict(result.model, dd, cfg, autocast) == dd.y_val).to(torch.uint8).cpu()
    return {**asdict(job), "acc_stale_bn": result.val_accuracy, "acc": correct.float().mean().item(),
            "correct": bytes(correct.tolist()).hex(), "secs": result.total_time,
            "images_per_sec": result.images_per_sec}


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def default_processes() -> int:
    """Two on a CPU machine with two or more cores (one thread each); one on a GPU machine."""
    if torch.cuda.is_available():
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], processes: int | None = None,
                 on_done: Callable[[Any], None] | None = None) -> list[Any]:
    """``[fn(x) for x in items]`` over worker processes (``fn`` must be importable); results in
    order, ``on_done`` sees each as it finishes."""
    processes = processes or default_processes()
    if processes == 1 or len(items) <= 1:
        results = []
        for item in items:
            results.append(fn(item))
            if on_done:
                on_done(results[-1])
        return results
    threads = max(1, (os.cpu_count() or processes) // processes)
    results: list[Any] = [None] * len(items)
    with cf.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in cf.as_completed(futures):
            results[futures[future]] = future.result()
            if on_done:
                on_done(results[futures[future]])
    return results


def run_jobs(jobs: Sequence[Job], on_done: Callable[[dict[str, Any]], None] | None = None,
             processes: int | None = None) -> list[dict[str, Any]]:
    """Train every job; results in the order of ``jobs``; ``on_done`` sees each as it finishes."""
    return parallel_map(run_job, jobs, processes, on_done)
