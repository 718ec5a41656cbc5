"""How many CPU threads a training process should use: the cores free to it, not all of them.

On a shared machine torch's default (every core) makes OpenMP wait at each operation's barrier
for threads the neighbours have descheduled: with one busy neighbour process on this 2-core
machine an epoch took 4.3-5.0 s on two threads against 2.0-2.7 s on one (issue 33; BENCHMARKS.md
§7b). So a command that trains on the CPU looks, once at its start, at how busy the cores it may
use are (``/proc/stat`` over a quarter of a second; Linux), and uses the free ones: at least one.
A user's ``OMP_NUM_THREADS`` wins. Python callers keep torch's setting: theirs to choose.
"""

from __future__ import annotations

import os
import time

SAMPLE_SECONDS = 0.25


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask; all of them elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _busy_cores(cores: set[int], seconds: float) -> float | None:
    """How many of ``cores`` other processes kept busy over ``seconds`` (None where /proc/stat is
    not there); this process sleeps meanwhile, so what is busy is someone else."""
    def read() -> dict[int, tuple[int, int]]:
        out = {}
        with open("/proc/stat") as fh:
            for line in fh:
                name, *fields = line.split()
                if name.startswith("cpu") and name != "cpu":
                    values = [int(v) for v in fields]
                    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
                    out[int(name[3:])] = (sum(values[:8]), idle)
        return out
    try:
        before = read()
        time.sleep(seconds)
        after = read()
    except (OSError, ValueError):
        return None
    busy = 0.0
    for cpu in cores:
        if cpu in before and cpu in after:
            total = after[cpu][0] - before[cpu][0]
            idle = after[cpu][1] - before[cpu][1]
            busy += (total - idle) / total if total > 0 else 0.0
    return busy


def free_cores(seconds: float = SAMPLE_SECONDS) -> int:
    """The cores of this process's mask that nothing else kept busy (at least 1)."""
    try:
        cores = set(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
    busy = _busy_cores(cores, seconds)
    if busy is None:
        return len(cores)
    return max(1, len(cores) - int(busy + 0.5))


def training_threads(workers_on_cpu: int = 1) -> int:
    """Threads for each of ``workers_on_cpu`` training processes: the cores the user gave
    (``OMP_NUM_THREADS``) or else the free ones, divided between them (at least 1 each): N workers
    on two threads each on a 2-core machine wait on each other at every barrier."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    total = int(given) if given.isdigit() and int(given) > 0 else free_cores()
    return max(1, total // max(1, workers_on_cpu))


def use_free_cores(device: str, workers: int = 1) -> str | None:
    """In a command that trains on the CPU in its own process, set torch's threads to the free
    cores; returns the line that says so where that is fewer than the cores (None otherwise)."""
    if workers != 1 or not (device == "cpu" or (device == "auto" and not _cuda())):
        return None
    import torch

    threads, cores = training_threads(), usable_cores()
    torch.set_num_threads(threads)
    if threads >= cores or os.environ.get("OMP_NUM_THREADS"):
        return None
    return (f"training on {threads} thread{'s' if threads != 1 else ''}: {cores - threads} of {cores} cores busy "
            f"with other processes (set OMP_NUM_THREADS to choose)")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
