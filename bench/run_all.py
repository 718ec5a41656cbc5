"""``make bench``: every benchmark at a CPU-sized setting, one after another (not in parallel,
so that they do not disturb each other's timings)."""

from __future__ import annotations

import importlib
import time

MODULES = ("bench.throughput", "bench.overhead", "bench.search_efficiency", "bench.workers",
           "bench.scaling", "bench.ranking_fidelity")


def main() -> None:
    for name in MODULES:
        start = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main()
        print(f"=== {name}: {time.perf_counter() - start:.0f} s ===", flush=True)


if __name__ == "__main__":
    main()
