"""Bare training steps on a CUDA GPU: why several candidates per GPU scale as they do, and what
CUDA graphs would buy a launch-bound candidate.

Part "processes": N = 1, 2, 4 and 8 processes each run forward + backward + SGD steps of the same
small model (mobile/mobilenetv2_tiny, batch 64, fp32) on one batch held on the GPU, with no data
pipeline, sampler or storage, for a fixed time, started together behind a barrier: their summed
images/s against one process alone. Where the sum stays near one process's, the GPU's switching
between the processes' contexts is the limit, not the search loop.

Part "graphs": the same step captured once as a CUDA graph and replayed, against the eager step,
per model, in fp32 NCHW and in bf16 autocast with channels_last (the trainer's two settings).

    python -m bench.gpu_steps [processes] [graphs]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from bench.common import cuda_or_say, parts_asked, save
from nas.arch.space_file import load_space
from nas.model.builder import build_model
from nas.model.cost import estimate_cost

BATCH = 64


def reference(name: str, resolution: int | None = None):  # noqa: ANN201
    space, _, wanted = name.partition("/")
    g = next(g for g in load_space(space).reference_genotypes(1, 10) if g.name == wanted)
    return replace(g, resolution=resolution) if resolution else g


def training_step(g, bf16: bool, channels_last: bool):  # noqa: ANN001, ANN201
    """A model, its optimizer and a step closure over one static batch on the GPU."""
    torch.manual_seed(0)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(g).to(device="cuda", memory_format=memory).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(BATCH, g.in_channels, g.resolution, g.resolution, device="cuda").contiguous(memory_format=memory)
    y = torch.randint(0, g.num_classes, (BATCH,), device="cuda")

    def step() -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)  # grads stay allocated: a captured graph reuses them
        return loss

    return step


def _process(name: str, seconds: float, barrier, results) -> None:  # noqa: ANN001
    torch.set_num_threads(2)
    step = training_step(reference(name), bf16=False, channels_last=False)
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    barrier.wait()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    torch.cuda.synchronize()
    results.put(steps * BATCH / (time.perf_counter() - start))


def processes(name: str = "mobile/mobilenetv2_tiny", seconds: float = 6.0) -> list[dict[str, float]]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    rows = []
    for n in (1, 2, 4, 8):
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_process, args=(name, seconds, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        each = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
        rows.append({"processes": n, "images_per_s_sum": sum(each), "images_per_s_each": statistics.mean(each)})
        print(f"{n} process(es) on one GPU, bare steps of {name}: {sum(each):7.0f} img/s in all "
              f"(x{sum(each) / rows[0]['images_per_s_sum']:.2f} of one), {statistics.mean(each):7.0f} each", flush=True)
    return rows


def timed(run, steps: int) -> float:  # noqa: ANN001
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        run()
    torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - start)


def graphed_against_eager(g, bf16: bool, channels_last: bool, steps: int = 200) -> dict[str, float]:  # noqa: ANN001
    step = training_step(g, bf16, channels_last)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture stream (momentum buffers, grads)
        for _ in range(5):
            step()
    torch.cuda.current_stream().wait_stream(side)
    eager = timed(step, steps)
    graph = torch.cuda.CUDAGraph()
    start = time.perf_counter()
    with torch.cuda.graph(graph):
        static_loss = step()
    capture_s = time.perf_counter() - start
    graph.replay()  # the loss tensor holds nothing until the first replay
    first = static_loss.item()
    replayed = timed(graph.replay, steps)
    last = static_loss.item()
    return {"eager_img_s": eager, "graphed_img_s": replayed, "gain": replayed / eager, "capture_s": capture_s,
            "loss_first_replay": first, "loss_after_replays": last}


def graphs() -> list[dict[str, object]]:
    rows = []
    models = [(n, None) for n in ("mobile/mobilenetv2_tiny", "mobile/smallest", "efficientnetv2/efficientnetv2_tiny",
                                  "resnet/resnet_tiny")]
    models += [("mobile/mobilenetv2_tiny", 112), ("efficientnetv2/efficientnetv2_tiny", 112)]
    for name, resolution in models:
        g = reference(name, resolution)
        for bf16, channels_last in ((False, False), (True, True)):
            row = {"model": name, "resolution": g.resolution, "flops": estimate_cost(g).flops, "bf16": bf16,
                   "channels_last": channels_last, **graphed_against_eager(g, bf16, channels_last)}
            rows.append(row)
            print(f"{name:36s} {g.resolution:3d}px {'bf16+CL' if bf16 else 'fp32   '}: eager {row['eager_img_s']:7.0f} "
                  f"img/s, graphed {row['graphed_img_s']:7.0f} (x{row['gain']:.2f}; capture {row['capture_s']:.2f} s; "
                  f"loss {row['loss_first_replay']:.3f} -> {row['loss_after_replays']:.3f})", flush=True)
    return rows


def main() -> None:
    parts = parts_asked(("processes", "graphs"))
    if not cuda_or_say("bench.gpu_steps"):
        return
    out: dict[str, object] = {"gpu": torch.cuda.get_device_name(0), "batch": BATCH}
    if "processes" in parts:
        out["processes"] = processes()
    if "graphs" in parts:
        out["graphs"] = graphs()
    save("gpu_steps", {**out, "command": "python -m bench.gpu_steps " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
