"""How a run is set up: the loop's settings and where its workers run. Plain dataclasses, torch-
and Optuna-free, so that the configuration the CLI fills (and ``nas --help``) imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from ..store.defaults import DEFAULT_STALE_AFTER


@dataclass
class LoopSettings:
    total: int  # evaluated trials wanted in the study, counted study-wide
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0  # seconds between looks while the last trials run elsewhere
    max_asks: int | None = None  # stop after this many proposals (e.g. most over budget)
    overlap_sampling: bool = False  # ask for the next trial while this one trains (run.overlapped)
    group: int = 1  # candidates in training at once (run.grouped); 1: serial or overlapped
    device: str = "cpu"  # where the group trains: side by side on CUDA, one after another on the CPU
    group_concurrent: bool | None = None  # side by side on the CPU too (tests of the threaded path)


@dataclass
class Workers:
    """Where the work runs: ``count`` processes (1: the command's own) on ``device`` (auto, cpu,
    cuda, cuda:N), at most ``per_device`` on each GPU, on the GPUs ``gpu_ids`` (default all)."""

    device: str = "auto"
    count: int = 1
    per_device: int | None = None
    gpu_ids: list[int] | None = None
