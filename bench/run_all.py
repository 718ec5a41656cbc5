"""``make bench``: every benchmark at a CPU-sized setting, one after another (not in parallel,
so that they do not disturb each other's timings). Wall time per benchmark goes to
results/bench/run_all.json (goal: the whole run under 30 minutes on a 2-core machine)."""

from __future__ import annotations

import importlib
import time

from bench.common import save

MODULES = ("bench.throughput", "bench.overhead", "bench.search_efficiency", "bench.ranking_fidelity",
           "bench.defaults", "bench.scaling", "bench.workers")


def main() -> None:
    seconds: dict[str, float] = {}
    start_all = time.perf_counter()
    for name in MODULES:
        start = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main()
        seconds[name] = time.perf_counter() - start
        print(f"=== {name}: {seconds[name]:.0f} s ===", flush=True)
    total = time.perf_counter() - start_all
    print(f"\nmake bench: {total / 60:.1f} min in all (goal < 30 min)")
    save("run_all", {"seconds": seconds, "total_s": total, "command": "make bench"})


if __name__ == "__main__":
    main()
