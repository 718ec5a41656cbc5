"""``make bench``: every benchmark at a CPU-sized setting, one after another (not in parallel,
so that they do not disturb each other's timings). Wall time per benchmark goes to
results/bench/run_all.json. ``make bench-proof`` (``python -m bench.run_all proof``) runs the
benchmarks that show what the search finds on the harder task, which train for longer."""

from __future__ import annotations

import importlib
import time

from bench.common import save

MODULES = ("bench.throughput", "bench.overhead", "bench.search_efficiency", "bench.ranking_fidelity",
           "bench.defaults", "bench.workers", "bench.threads")
# The parts of a benchmark that `make bench` runs, where not all: bench.overhead's headline figures
# (the `make search` loop, the GPU default's stand-in, storage writes, the 1,000-trial study). Its
# other parts are the side-by-side comparisons behind single decisions (BENCHMARKS.md §2), each
# run by its own command; all eleven would take about an hour here (estimated from their run times).
# Every benchmark gets only its own parts on the command line: `make bench-proof`'s "proof" used to
# reach them too, and bench.sampler_choice took it for a candidate's name and replayed random search only.
PARTS = {"bench.overhead": ("demo", "thread", "storage", "long")}
# bench.scaling retrains 27 networks on the harder task from the demo's knee (needs `make search`);
# bench.sampler_choice replays GP 75 times (about 45 minutes here, with its tables trained);
# bench.latency (4 minutes) reads accuracies from the mobile and mixed tables sampler_choice trains.
# bench.signals calibrates on two tasks (about 40 minutes the first time; its studies resume).
# bench.replay replays searches on the committed own table and the public ones (no training);
# bench.own_table, which builds that table (hours), is not part of it.
PROOF = ("bench.signals", "bench.harder_task", "bench.retrain_budget", "bench.search_vs_random", "bench.continuation",
         "bench.halving", "bench.scaling", "bench.sampler_choice", "bench.latency", "bench.replay")


def main() -> None:
    import sys

    proof = sys.argv[1:] == ["proof"]
    seconds: dict[str, float] = {}
    start_all = time.perf_counter()
    for name in PROOF if proof else MODULES:
        start = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        sys.argv = [name, *PARTS.get(name, ())]  # each benchmark reads its parts from the command line
        importlib.import_module(name).main()
        seconds[name] = time.perf_counter() - start
        print(f"=== {name}: {seconds[name]:.0f} s ===", flush=True)
    total = time.perf_counter() - start_all
    command = "make bench-proof" if proof else "make bench"
    print(f"\n{command}: {total / 60:.1f} min in all")
    save("run_all_proof" if proof else "run_all", {"seconds": seconds, "total_s": total, "command": command})


if __name__ == "__main__":
    main()
