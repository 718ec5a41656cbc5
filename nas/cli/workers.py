"""``--workers``, ``--workers-per-device`` and ``--group``, the same on search, scale and retrain."""

from __future__ import annotations

import argparse

from ..errors import UserError


def add_workers(p: argparse.ArgumentParser, shared: str) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help=f"worker processes sharing {shared} (default 1, or K per device with --workers-per-device K)")
    p.add_argument("--workers-per-device", type=int, default=None, metavar="K",
                   help="put up to K workers on each GPU (small networks leave a GPU idle), each capped at "
                        "1/K of its memory; refused before starting when they cannot fit")
    p.add_argument("--group", default="1", metavar="K|auto",
                   help="candidates in training at once in each worker: side by side on a GPU (a thread and "
                        "CUDA stream each, the data on the device once), one after another on the CPU; auto: "
                        "as many as the GPU's free memory holds, at most 8 (default 1)")


def workers_of(args: argparse.Namespace, gpu_ids: list[int] | None = None) -> int:
    """How many workers to start: ``--workers``, or K per device from ``--workers-per-device K``."""
    from ..study.run.placement import workers_wanted
    from ..train.devices import check_device

    check_device(args.device)  # a device that is not there: refused before anything is written
    for flag, value in (("--workers", args.workers), ("--workers-per-device", args.workers_per_device)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be >= 1, got {value}")
    workers = workers_wanted(args.workers, args.workers_per_device, args.device, gpu_ids)
    say_threads(args.device, workers)
    return workers


def say_threads(device: str, workers: int) -> None:
    """A command training on the CPU in its own process uses the free cores (nas.train.cpu_threads)
    and says so when other processes hold some."""
    import sys

    from ..train.cpu_threads import use_free_cores

    note = use_free_cores(device, workers)
    if note:
        print(note, file=sys.stderr)
