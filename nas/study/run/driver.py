"""One driver for every command that trains in a study (search, retrain, scale): place the workers,
say what starts, run the work in this process or in one worker process per device, and say how
to resume after Ctrl-C.

A workload says only what is its own, in one object that crosses into worker processes
(:class:`Workload`): how to open its study and build its evaluation. That one ``open`` runs
everywhere the work runs: in a worker process, where it loads the study and the data itself, and
in the command's own process, where it is handed what the command already loaded (``ready``:
loading a dataset again took ~1.2 s), so that each workload builds its evaluator in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from .loop import run_loop
from .placement import place_workers
from .processes import check_codes, run_workers
from .steps import LoopSummary
from .settings import Workers
from .workload import Workload


def drive(workload: Workload, workers: Workers, setup: Callable[[list[str]], tuple[Any, str]], *,
          study_name: str, interrupted: Callable[[], str], data_bytes: Callable[[], int] = lambda: 0,
          out: TextIO | None = None) -> LoopSummary | None:
    """Run ``workload`` until its study holds its total. The workers are placed first (refused
    before anything is written where they cannot fit: ``data_bytes`` is what each keeps on a GPU);
    then ``setup(devices)`` does the workload's own writing (a retrain's runs enqueued, say) and
    returns what this process holds ready and the line to print; ``interrupted()`` is printed
    after Ctrl-C. Returns the loop's summary where it ran in this process."""
    devices = place_workers(workers.device, workers.count, workers.per_device, workers.gpu_ids, data_bytes)
    ready, header = setup(devices)
    print(header, file=out)
    try:
        if workers.count == 1:
            opened = workload.open(0, devices[0], ready)
            try:
                return run_loop(opened.handle, opened.evaluate, opened.settings, opened.on_told)
            finally:
                opened.close()
        bad = check_codes(run_workers(workload, devices), study_name)
        if bad:
            print(f"warning: {len(bad)} worker(s) exited with codes {bad}; finished trials are kept", file=out)
        return None
    except KeyboardInterrupt:
        print(interrupted(), file=out)
        raise
