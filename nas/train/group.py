"""A group of candidates trained at once on one device: one worker thread per candidate, each
issuing its work on its own CUDA stream.

Why: the candidates a search trains are small. On an H100 the largest demo model trained at
0.26% of the GPU's bf16 peak, and one worker kept the GPU busy 8% of the time; more worker
processes mostly added host contention (x2.07 trials/hour for 8 processes, BENCHMARKS.md §14).
Threads in one process share the dataset on the device and the CUDA context, and each
candidate's step is a replayed CUDA graph (:mod:`nas.train.cuda_graph`), whose launch costs the
host little, so K candidates' kernels can overlap on K streams.

Each candidate keeps everything that decides its result: its seed, its own generator (data
order, augmentation), optimizer and schedule; seeding and building its network is one step taken
by one thread at a time (:data:`nas.train.side_by_side.SETUP`). On the CPU the group has **one**
thread: its candidates train one after another, each exactly as it would alone (the trainer's
intra-op threads already fill the cores); ``concurrent=True`` runs them side by side there too,
which the tests use to exercise the threaded path. On CUDA, candidates trained side by side draw
dropout and drop-path masks from the device's shared generator in an order that depends on
timing, so they match a lone run within noise, not bit for bit.

A candidate that fails (non-finite loss, out of memory, any exception) fails alone: its future
holds the exception and the others go on. :meth:`CandidatePool.close` stops what still trains
(:func:`nas.train.side_by_side.check_stop`) and waits for the threads to leave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from typing import Any, TypeVar

import torch

from ..arch.genotype import Genotype
from .config import TrainConfig, TrainResult
from .data import Dataset
from .side_by_side import stoppable

T = TypeVar("T")


class CandidatePool:
    """Worker threads that train up to ``size`` candidates at once on ``device``: ``size``
    threads on CUDA (or with ``concurrent=True``), one on the CPU."""

    def __init__(self, device: torch.device, size: int, concurrent: bool | None = None) -> None:
        if size < 1:
            raise ValueError(f"a group holds at least one candidate, got {size}")
        self.device, self.size = device, size
        concurrent = device.type == "cuda" if concurrent is None else concurrent
        self.threads = size if concurrent else 1
        self.stop = threading.Event()
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="candidate",
                                            initializer=self._start_thread, initargs=(torch.get_num_threads(),))

    def _start_thread(self, intra_op_threads: int) -> None:
        """A worker thread trains with the caller's intra-op thread count (OpenMP's is per
        thread: a new thread would start from the machine's default), on a stream of its own."""
        torch.set_num_threads(intra_op_threads)
        self._local.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def submit(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:  # noqa: ANN401
        """Run ``work(*args, **kwargs)`` on a worker thread; its future holds the result or the
        exception."""
        return self._executor.submit(self._run, work, args, kwargs)

    def _run(self, work: Callable[..., T], args: tuple, kwargs: dict) -> T:
        stream = self._local.stream
        with stoppable(self.stop), (torch.cuda.stream(stream) if stream is not None else nullcontext()):
            result = work(*args, **kwargs)
            if stream is not None:
                stream.synchronize()  # what it returns is final before another thread reads it
            return result

    def close(self) -> None:
        """Stop what still trains and wait for the threads to leave."""
        self.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def train_group(genotypes: list[Genotype], data: Dataset, cfg: TrainConfig, device: torch.device,
                concurrent: bool | None = None, keep_models: bool = False) -> list[TrainResult | BaseException]:
    """Train ``genotypes`` as one group (:class:`CandidatePool` of their number); each entry is
    the candidate's result, or the exception it failed with."""
    from .trainer import train_candidate

    pool = CandidatePool(device, len(genotypes), concurrent)
    try:
        futures = [pool.submit(train_candidate, g, data, cfg, device, None, keep_models) for g in genotypes]
        wait(futures)
    finally:
        pool.close()
    return [f.exception() or f.result() for f in futures]
