"""Worker processes: starting them on their devices (:mod:`nas.study.run.placement`), and the one
entry point they run.

A :class:`~nas.study.run.workload.Workload` says how a worker opens its part of the work (the
study, the evaluation, the loop settings); search, retrain and scale each provide one, and
:func:`worker_main` runs any of them in the same ask/tell loop (:mod:`nas.study.run.loop`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .workload import Workload


def raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """Signal handler: a scheduler's SIGTERM ends the work as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def worker_main(job: Workload, index: int, device: str, threads: int, memory_share: float = 1.0) -> None:
    """A worker process: SIGTERM ends it like Ctrl-C, then the shared loop runs the job. A worker
    sharing a GPU with others is capped at its share of the GPU's memory."""
    import signal

    import optuna
    import torch

    from .loop import run_loop

    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    torch.set_num_threads(threads)
    if device.startswith("cuda") and memory_share < 1.0:
        torch.cuda.set_per_process_memory_fraction(memory_share, torch.device(device))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from ..store.recovery import StorageLost

    opened = job.open(index, device)
    try:
        run_loop(opened.handle, opened.evaluate, opened.settings, opened.on_told)
    except KeyboardInterrupt:
        sys.exit(130)
    except StorageLost as exc:
        print(f"[worker {index}] {exc}", file=sys.stderr, flush=True)
        sys.exit(StorageLost.exit_code)
    finally:
        opened.close()


def run_workers(job: Workload, devices: list[str]) -> list[int | None]:
    """One spawned process per device running ``job``; waits for all and returns their exit codes.

    CPU threads are divided between the CPU processes. On Ctrl-C (which the terminal also sends
    to the children, so each fails its running trial) the children get 30 s to finish cleanly.
    """
    import multiprocessing as mp

    from ...train.cpu_threads import training_threads
    from .placement import memory_shares

    ctx = mp.get_context("spawn")
    cpu_workers = sum(d == "cpu" for d in devices)
    threads = training_threads(cpu_workers)  # the free cores, divided (nas.train.cpu_threads)
    procs = [ctx.Process(target=worker_main, args=(job, i, d, threads if d == "cpu" else 2, share),
                         name=f"nas-worker-{i}") for i, (d, share) in enumerate(zip(devices, memory_shares(devices)))]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        raise
    return [p.exitcode for p in procs]


def check_codes(codes: list[int | None], study_name: str) -> list[int]:
    """Worker exit codes: a storage lost past the retry window (3) is the command's too; the
    other non-zero codes are returned for a warning."""
    from ..store.recovery import StorageLost, recovery_dir

    lost = sum(c == StorageLost.exit_code for c in codes)
    if lost:
        raise StorageLost(f"{lost} worker(s) lost the storage for longer than --storage-retry; what they "
                          f"finished is kept in {recovery_dir(study_name)} and goes back into the study "
                          f"when the same command runs again")
    return [c for c in codes if c not in (0, None)]
