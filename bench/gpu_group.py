"""On a CUDA GPU: does a group of candidates in one process fill the device (``--group K``)?

Part "group" runs the demo search (``make search``'s settings: mobile space, cluttered, FLOPs
budget 20M, default sampler; every candidate trained for the brief budget and ranked on its
validation accuracy, as bench.gpu's parts do) with ``--group 1`` (the graphed single-candidate
figure, measured in the same run) and then ``--group K`` for each K asked, the same number of
trials each: trials per hour over the search loop, the GPU's busy share (NVML), peak memory, and
the images per second trained over the loop by all candidates together. Then K separate
processes (``--workers K --workers-per-device K``, one candidate each) at the largest K, for the
images per second of K processes against one group of K.

Part "equal" trains the same candidates (the group-1 search's) alone and as one group side by
side, and reports each candidate's accuracy difference (the grouped trainer's tolerance on CUDA:
dropout and drop-path masks come from the device's shared generator in an order that depends on
timing).

Part "precision" trains the largest candidate of the space and the space's references with the
graphed trainer under bf16 + channels_last, bf16 + NCHW, fp32 + channels_last and fp32 + NCHW, and
reports images per second and the fraction of the GPU's bf16 dense peak reached (fvcore FLOPs x 3
for forward and backward, 1 multiply-add = 1 flop, so the fraction counts multiply-adds: the peak
is given in the same unit).

    python -m bench.gpu_group [group] [equal] [precision] [k=4,8,16,32] [trials=64] [peak_tflops=989]

It needs a CUDA GPU and says so otherwise. No figure of it has been measured yet.
"""

from __future__ import annotations

import shutil
import statistics
import sys

import torch

from bench.common import cuda_or_say, parts_asked, quick, save
from bench.gpu import GpuMonitor
from bench.overhead import demo_search
from nas.study.store.records import TrialRecord
from nas.train.trainer import train_candidate

DEVICE = "cuda"  # a smoke run on the CPU sets "cpu"
DATASET = "cluttered"
H200_BF16_DENSE_TFLOPS = 989.0  # NVIDIA's H200 SXM datasheet (dense, without sparsity), multiply-adds x 2


def searched(k: int, trials: int, **settings: object) -> dict[str, float | None]:
    name = f"bench-gpu-group{k}-{'p' if settings else 'g'}"
    with GpuMonitor() as monitor:
        found, loop, wall = demo_search(name, train_candidate, trials, "auto", dataset=DATASET, device=DEVICE,
                                        url="journal:results/{name}/journal.log", **settings)
    records = [TrialRecord.from_trial(t) for t in found if t.datetime_complete]
    trained = [r for r in records if r.trained]
    images = sum((r.images_per_sec or 0) * (r.train_time or 0) for r in trained)
    shutil.rmtree(f"results/{name}", ignore_errors=True)
    return {"k": k, "trials": len(records), "trained": len(trained), "loop_s": loop, "wall_s": wall,
            "trials_per_hour_loop": 3600 * len(records) / loop, "images_per_s_loop": images / loop,
            "mean_accuracy": statistics.mean(r.accuracy for r in trained if r.accuracy is not None),
            "genotypes": [r.genotype for r in trained], **monitor.summary()}


def group(trials: int, ks: tuple[int, ...]) -> dict[str, object]:
    searched(1, 2, group=1)  # CUDA's start-up and the imports, outside the timings
    rows: list[dict[str, object]] = []
    for k in (1, *ks):  # each row printed and saved as soon as measured: a run stopped at its time keeps them
        rows.append(searched(k, trials, group=k))
        row, base = rows[-1], rows[0]["trials_per_hour_loop"]
        print(f"--group {row['k']}: {row['trials_per_hour_loop']:7.0f} trials/h (x{row['trials_per_hour_loop'] / base:.2f} "
              f"of --group 1, goal >= 5), {row['images_per_s_loop']:9.0f} images/s, GPU busy "
              f"{row['gpu_busy_percent']}% (goal >= 60%), peak memory {row['gpu_memory_peak_gib']} GiB, "
              f"mean accuracy {row['mean_accuracy']:.4f}, loop {row['loop_s']:.1f} s", flush=True)
        save("gpu_group_partial", {"rows": [{a: b for a, b in r.items() if a != "genotypes"} for r in rows]})
    processes = searched(max(ks), trials, workers=max(ks), workers_per_device=max(ks))
    print(f"{max(ks)} processes: {processes['images_per_s_loop']:.0f} images/s against one group of {max(ks)}: "
          f"{rows[-1]['images_per_s_loop']:.0f}", flush=True)
    return {"rows": [{k: v for k, v in r.items() if k != "genotypes"} for r in rows],
            "processes": {k: v for k, v in processes.items() if k != "genotypes"},
            "genotypes": rows[0]["genotypes"]}


def equal(genotypes: list[str], k: int) -> dict[str, object]:
    from nas.arch.genotype import Genotype
    from nas.train.group import train_group
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig

    data, cfg = load_dataset(DATASET), TrainConfig()
    members = [Genotype.from_json(g) for g in genotypes[:k]]
    alone = [train_candidate(g, data, cfg, DEVICE).val_accuracy for g in members]
    together = train_group(members, data, cfg, torch.device(DEVICE))
    diffs = [(t.val_accuracy if not isinstance(t, BaseException) else float("nan")) - a for t, a in zip(together, alone)]
    print(f"{len(members)} candidates alone / as one group: accuracy differences mean {statistics.mean(diffs):+.4f}, "
          f"largest {max(map(abs, diffs)):.4f}", flush=True)
    return {"candidates": len(members), "alone": alone, "differences": diffs}


def precision(peak_tflops: float) -> list[dict[str, object]]:
    from nas.arch.space_file import load_space
    from nas.model.cost import estimate_cost
    from nas.model.memory import largest_genotype
    from nas.train.sources import load_dataset
    from nas.train.trainer import TrainConfig

    data, space = load_dataset(DATASET), load_space("mobile")
    shapes = [largest_genotype(space, data.in_channels, data.num_classes),
              *space.reference_genotypes(data.in_channels, data.num_classes)]
    rows = []
    for g in shapes:
        flops = estimate_cost(g).flops
        for bf16 in (True, False):
            for channels_last in (True, False):
                r = train_candidate(g, data, TrainConfig(bf16=bf16, channels_last=channels_last), DEVICE)
                peak = 3 * flops * r.images_per_sec / (peak_tflops / 2 * 1e12)  # the peak in multiply-adds
                rows.append({"arch": g.name or g.arch, "mflops": flops / 1e6, "bf16": bf16, "channels_last": channels_last,
                             "images_per_s": r.images_per_sec, "fraction_of_bf16_peak": peak, "accuracy": r.val_accuracy})
                print(f"{g.name:>16} {'bf16' if bf16 else 'fp32'} {'channels_last' if channels_last else 'NCHW':>13}: "
                      f"{r.images_per_sec:9.0f} images/s, {100 * peak:.3f}% of the bf16 peak, acc {r.val_accuracy:.4f}",
                      flush=True)
    return rows


def main() -> None:
    parts = parts_asked(("group", "equal", "precision"))
    if not cuda_or_say("bench.gpu_group"):
        return
    args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    ks = tuple(int(k) for k in args["k"].split(",")) if "k" in args else ((2, 4) if quick() else (4, 8, 16, 32))
    trials = int(args.get("trials", 8 if quick() else 64))
    out: dict[str, object] = {"gpu": torch.cuda.get_device_name(0)}
    if "group" in parts or "equal" in parts:
        out["group"] = group(trials, ks)
    if "equal" in parts:
        out["equal"] = equal(out["group"]["genotypes"], max(ks))
    if "precision" in parts:
        out["precision"] = precision(float(args.get("peak_tflops", H200_BF16_DENSE_TFLOPS)))
    save("gpu_group", {**out, "command": "python -m bench.gpu_group " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
