"""Parallel workers on this machine: trials per minute with --workers 1 and 2 (demo settings).

Both runs use the same storage kind (a journal file) and the same demo settings (mobile space,
mnist5k, default epochs, TPE), 12 trials each, one after the other. Coordination time per trial is
the worker time not spent inside trials: (wall x workers - sum of trial durations) / trials,
where a trial's duration runs from ask to tell (Optuna's start and complete times).

    python -m bench.workers
"""

from __future__ import annotations

import io
import shutil
import time

from bench.common import quick, save
from nas.study.search import SearchConfig, run_search
from nas.train.trainer import TrainConfig


def run(workers: int, trials: int) -> dict[str, float]:
    name = f"bench-workers-{workers}"
    shutil.rmtree(f"results/{name}", ignore_errors=True)
    cfg = SearchConfig(space="search_spaces/mobile.yaml", dataset="mnist5k", study=name, trials=trials,
                       train=TrainConfig(), flops_max=20e6, progress=False, write_files=False,
                       workers=workers, signal="val_accuracy", storage=None if workers > 1 else f"journal:results/{name}/journal.log")
    if workers == 1:
        import pathlib
        pathlib.Path(f"results/{name}").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    study = run_search(cfg, out=io.StringIO())
    wall = time.perf_counter() - start
    done = [t for t in study.trials if t.datetime_complete and t.datetime_start]
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    return {"workers": workers, "trials": trials, "wall_s": wall, "trials_per_min": 60 * trials / wall,
            "coordination_s_per_trial": (wall * workers - busy) / trials}


def main() -> None:
    trials = 6 if quick() else 12
    one, two = run(1, trials), run(2, trials)
    speedup = two["trials_per_min"] / one["trials_per_min"]
    for r in (one, two):
        print(f"--workers {r['workers']}: {r['trials_per_min']:.1f} trials/min ({r['wall_s']:.0f}s for {trials}), "
              f"coordination {r['coordination_s_per_trial']:.2f}s per trial (incl. start-up)")
    print(f"speed-up of --workers 2 over 1 on {__import__('os').cpu_count()} cores: x{speedup:.2f}")
    save("workers", {"one": one, "two": two, "speedup": speedup, "command": "python -m bench.workers"})


if __name__ == "__main__":
    main()
