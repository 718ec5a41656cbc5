"""CPU threads on a shared machine (issue 33): one training epoch with a busy neighbour process,
on torch's default threads (every core: before) against the free cores
(``nas.train.cpu_threads.training_threads``: after), alternating, with no neighbour beside.

The neighbour is one Python process spinning on a core (what a second search, a test suite or
an editor's indexer does to a 2-core machine). The epoch: mobilenetv2_tiny (the mobile space's
reference) on mnist5k at its resolution, batch 64, the toolkit's trainer.

    python -m bench.threads [repeats=3]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch

from bench.common import quick, save
from nas.arch.space_file import load_space
from nas.train.config import TrainConfig
from nas.train.cpu_threads import free_cores, usable_cores
from nas.train.sources import load_dataset
from nas.train.trainer import train_candidate


def epoch_seconds(threads: int) -> float:
    data = load_dataset("mnist5k")
    g = next(g for g in load_space("mobile").reference_genotypes(data.in_channels, data.num_classes)
             if g.name == "mobilenetv2_tiny")
    torch.set_num_threads(threads)
    start = time.perf_counter()
    train_candidate(g, data, TrainConfig(epochs=0.2 if quick() else 1.0, zero_cost=False), torch.device("cpu"))
    return time.perf_counter() - start


def main() -> None:
    repeats = int(next((a.split("=")[1] for a in sys.argv[1:] if a.startswith("repeats=")), 3))
    cores = usable_cores()
    epoch_seconds(cores)  # warm-up: data loaded and resized once
    out: dict[str, object] = {"cores": cores}
    for neighbour in (False, True):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if neighbour else None
        try:
            time.sleep(1.0)
            chosen = free_cores()  # what a command starting now would take
            runs: dict[str, list[float]] = {"default": [], "free cores": []}
            for _ in range(repeats):
                runs["default"].append(epoch_seconds(cores))
                runs["free cores"].append(epoch_seconds(chosen))
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
        key = "busy neighbour" if neighbour else "idle"
        out[key] = {"threads_chosen": chosen, "default_threads": cores,
                    **{k: [round(v, 3) for v in vs] for k, vs in runs.items()},
                    "median_default": round(statistics.median(runs["default"]), 3),
                    "median_free_cores": round(statistics.median(runs["free cores"]), 3)}
        print(f"{key}: {cores} threads (torch's default) {statistics.median(runs['default']):.2f} s an epoch; "
              f"{chosen} (the free cores) {statistics.median(runs['free cores']):.2f} s "
              f"(medians of {repeats}, alternating)")
    save("threads", out)


if __name__ == "__main__":
    main()
