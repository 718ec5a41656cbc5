"""CPU threads the trainer lends to work that runs beside it in the same process.

With ``--overlap-sampling`` the next trial is asked for in a background thread while the current
candidate trains on the CPU. The trainer's intra-op threads already fill the cores, so the sampler
makes one busy thread too many, and OpenMP's barriers then wait at every op for a descheduled
thread: six demo candidates trained in 27.3 s beside a busy GP loop against 6.0 s alone (2 cores, 2
threads; on one thread: 10.2 s against 8.9 s; a scratch measurement, one run). So while such work
runs the trainer trains on one thread fewer, and takes it back when the work ends: overlapped trials
then cost what serial ones do within noise (BENCHMARKS.md §2). OpenMP's thread count is per calling
thread, so the trainer changes only its own.

On a GPU the trainer's CPU threads only launch kernels: nothing is lent or taken back there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_lock = threading.Lock()
_lent = 0


@contextmanager
def lend_thread() -> Iterator[None]:
    """Hold one of the trainer's CPU threads for the duration of the block."""
    global _lent
    with _lock:
        _lent += 1
    try:
        yield
    finally:
        with _lock:
            _lent -= 1


def threads_lent() -> int:
    return _lent


class TrainingThreads:
    """The trainer's own intra-op thread count, following the loans (checked once per step)."""

    def __init__(self, device: torch.device) -> None:
        self.full = torch.get_num_threads()
        self.current = self.full
        self.active = device.type == "cpu" and self.full > 1

    def follow(self) -> None:
        if not self.active:
            return
        wanted = max(1, self.full - _lent)
        if wanted != self.current:
            torch.set_num_threads(wanted)
            self.current = wanted

    def restore(self) -> None:
        if self.current != self.full:
            torch.set_num_threads(self.full)
            self.current = self.full
