"""On a CUDA GPU: how many candidates per GPU fill it, and what the search costs beside training.

Part "per_device" runs the demo search (``make search``: mobile space, cluttered MNIST, FLOPs
budget 20M, default sampler and epochs) with K = 1, 2, 4 and 8 workers on one GPU
(``--workers K --workers-per-device K``, a journal file), the same number of trials each, one
after the other: trials per hour over the search loop (first trial's start to last trial's end)
and over the whole call (workers' start-up included), each candidate's time in training (K
workers share the GPU, so each trains slower), the mean FLOPs of what was trained (the K runs
propose different candidates: a run of smaller ones would flatter its K), and the GPU's busy
fraction (NVML's utilisation: the share of each sampling period in which a kernel ran, read
every 0.2 s) and peak memory in use.

Part "overhead" measures the share of the search loop spent outside the trainer on the GPU
(one worker; serial sampling on SQLite, the default, against overlapped sampling on a journal
file), as ``bench.overhead``'s loop part does on the CPU: the same candidates trained again back
to back give the loop's whole cost beyond training.

    python -m bench.gpu [per_device] [graphs] [overhead] [k=1,2,4,8]

It needs a CUDA GPU and says so otherwise.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import threading

import torch

from bench.common import cuda_or_say, parts_asked, quick, save
from bench.overhead import demo_search
from nas.study.store.records import TrialRecord
from nas.train.trainer import train_candidate


class GpuMonitor:
    """Samples NVML's GPU utilisation and memory in use every ``period`` seconds in a thread
    (nothing where NVML is missing: the figures are then None)."""

    def __init__(self, period: float = 0.2) -> None:
        self.period, self.busy, self.memory = period, [], []
        self._stop = threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml, self._handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # noqa: BLE001 - the figures are optional
            self._nvml = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.busy.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            self.memory.append(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def __enter__(self) -> "GpuMonitor":
        if self._nvml is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._nvml is not None:
            self._thread.join()

    def summary(self) -> dict[str, float | None]:
        if not self.busy:
            return {"gpu_busy_percent": None, "gpu_memory_peak_gib": None}
        return {"gpu_busy_percent": statistics.mean(self.busy), "gpu_memory_peak_gib": max(self.memory) / 1024 ** 3}


def candidates_per_gpu(k: int, trials: int) -> dict[str, float | None]:
    name = f"bench-gpu-k{k}"
    with GpuMonitor() as monitor:
        found, loop, wall = demo_search(name, train_candidate, trials, "auto", url="journal:results/{name}/journal.log",
                                        dataset="cluttered", device="cuda", workers=k, workers_per_device=k)
    done = [t for t in found if t.datetime_start and t.datetime_complete]
    trained = [r for r in map(TrialRecord.from_trial, done) if r.trained]
    flops = [r.flops for r in trained if r.flops is not None]
    shutil.rmtree(f"results/{name}", ignore_errors=True)
    return {"candidates_per_gpu": k, "trials": len(done), "trained": len(trained), "loop_s": loop, "wall_s": wall,
            "trials_per_hour_loop": 3600 * len(done) / loop, "trials_per_hour_wall": 3600 * len(done) / wall,
            "train_s_per_candidate": statistics.mean(r.total_time for r in trained),
            "training_loop_s_per_candidate": statistics.mean(r.train_time for r in trained),
            "mean_mflops_trained": statistics.mean(flops) / 1e6, **monitor.summary()}


def per_device(trials: int, ks: tuple[int, ...]) -> list[dict[str, float | None]]:
    rows = []
    for k in ks:
        row = candidates_per_gpu(k, trials)
        rows.append(row)
        base = rows[0]["trials_per_hour_loop"]
        busy = row["gpu_busy_percent"]
        print(f"K={k}: {row['trials_per_hour_loop']:6.0f} trials/h over the loop (x{row['trials_per_hour_loop'] / base:.2f} "
              f"of K={rows[0]['candidates_per_gpu']}), {row['trials_per_hour_wall']:6.0f} over the whole call; {row['train_s_per_candidate']:.2f} s "
              f"in the trainer per candidate; {row['trained']} trained, mean {row['mean_mflops_trained']:.2f} MFLOPs "
              f"(fvcore, batch 1); GPU busy {'n/a' if busy is None else f'{busy:.0f}%'}", flush=True)
    return rows


def graphs(trials: int) -> dict[str, object]:
    """CUDA graphs in the trainer, side by side: the demo search's trained candidates (from an
    eager search) trained again with graphs off and on, alternating which goes first; then a
    search with graphs on (its own candidates) for trials per hour."""
    from nas.arch.genotype import Genotype
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig

    def search(name: str, cuda_graphs: bool, n: int) -> tuple[list[TrialRecord], float]:
        found, loop, _ = demo_search(name, train_candidate, n, "auto", dataset="cluttered", device="cuda",
                                     train=TrainConfig(cuda_graphs=cuda_graphs))
        shutil.rmtree(f"results/{name}", ignore_errors=True)
        return [TrialRecord.from_trial(t) for t in found if t.datetime_complete], loop

    search("bench-gpu-warm", False, 2)  # CUDA's start-up, outside the timings
    eager_records, eager_loop = search("bench-gpu-eager", False, trials)
    graphed_records, graphed_loop = search("bench-gpu-graphed", True, trials)
    data = load_dataset("cluttered")
    pairs = []
    for i, r in enumerate(x for x in eager_records if x.trained):
        g = Genotype.from_json(r.genotype)
        runs = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            runs[flag] = train_candidate(g, data, TrainConfig(cuda_graphs=flag), "cuda")
        pairs.append(runs)
    eager_s = sum(p[False].total_time for p in pairs)
    graphed_s = sum(p[True].total_time for p in pairs)
    row = {"candidates": len(pairs), "eager_total_s": eager_s, "graphed_total_s": graphed_s,
           "total_time_ratio": eager_s / graphed_s,
           "training_loop_ratio": sum(p[False].train_time for p in pairs) / sum(p[True].train_time for p in pairs),
           "mean_accuracy_eager": statistics.mean(p[False].val_accuracy for p in pairs),
           "mean_accuracy_graphed": statistics.mean(p[True].val_accuracy for p in pairs),
           "search_trials_per_hour_eager": 3600 * len(eager_records) / eager_loop,
           "search_trials_per_hour_graphed": 3600 * len(graphed_records) / graphed_loop}
    print(f"same {len(pairs)} candidates, graphs off / on: whole trainer x{row['total_time_ratio']:.2f} "
          f"({eager_s / len(pairs):.2f} s -> {graphed_s / len(pairs):.2f} s each), training loop "
          f"x{row['training_loop_ratio']:.2f}; mean accuracy {row['mean_accuracy_eager']:.4f} / "
          f"{row['mean_accuracy_graphed']:.4f}; searches of {trials} trials: {row['search_trials_per_hour_eager']:.0f} / "
          f"{row['search_trials_per_hour_graphed']:.0f} trials/h", flush=True)
    return row


def overhead(trials: int) -> dict[str, dict[str, float]]:
    from bench.overhead import storage_urls, trial_overhead

    out = {}
    for overlap, kind in ((False, "sqlite"), (True, "journal")):
        label = f"auto, {'overlapped' if overlap else 'serial'}, {kind}, GPU"
        o = out[label] = trial_overhead(trials, "auto", overlap, storage_urls()[kind])
        print(f"[{label}] outside the trainer: {100 * o['overhead_outside_trainer_fraction']:.2f}% (goal < 2%); "
              f"loop {o['loop_s_per_trial']:.3f} s per trial, in the trainer {o['in_train_candidate_s_per_trial']:.3f} s; "
              f"same candidates back to back: loop x{o['loop_over_back_to_back']:.3f}", flush=True)
    return out


def main() -> None:
    parts = parts_asked(("per_device", "overhead"))
    if not cuda_or_say("bench.gpu"):
        return
    ks = next((tuple(int(k) for k in a[2:].split(",")) for a in sys.argv[1:] if a.startswith("k=")),
              (1, 2) if quick() else (1, 2, 4, 8))
    out: dict[str, object] = {"gpu": torch.cuda.get_device_name(0)}
    if "per_device" in parts:
        out["per_device"] = per_device(8 if quick() else 48, ks)
    if "graphs" in parts:
        out["graphs"] = graphs(4 if quick() else 24)
    if "overhead" in parts:
        out["overhead"] = overhead(4 if quick() else 24)  # 24: GP proposes from trial 11; fits a lease
    save("gpu" if len(sys.argv) == 1 else "gpu_" + "_".join(a.replace("=", "").replace(",", "_") for a in sys.argv[1:]),
         {**out, "command": "python -m bench.gpu " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
