"""Does ``torch.compile`` pay for a candidate's brief training (issue 35, part 4)?

A search trains every candidate once, briefly, and every candidate is a new network: whatever
``torch.compile`` costs is paid again for each one. This measures, per model, the trainer's own
step (:func:`nas.train.trainer.optimise`: forward under the trainer's precision, cross-entropy,
backward, SGD step; channels_last, batch 64, augmented batches from the dataset) eager and
compiled (inductor, the default mode; on CUDA also ``mode="reduce-overhead"``, which adds CUDA
graphs): the first compiled step's seconds (tracing and code generation for forward and
backward), the median step afterwards, the steps after which compiling has paid for itself, and
the steps the brief budget runs (one epoch of ``cluttered``'s training split, the default
signal's budget). Evaluation in eval mode would be traced again: not counted here, so the figure
favours compiling.

Models: the ``mobile`` space's references at the task's resolution and the space's largest
candidate (:func:`nas.model.memory.largest_genotype`), as a search on the demo task trains them.

    python -m bench.compile_step [device=cpu|cuda] [steps=40] [models=mnasnet_tiny,largest]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace

import torch

from bench.common import argument, cuda_or_say, quick, save
from nas.arch.space_file import load_space
from nas.model.builder import build_model
from nas.model.cost import estimate_cost
from nas.model.memory import largest_genotype
from nas.train.config import TrainConfig
from nas.train.device_data import DeviceData
from nas.train.sources import load_dataset
from nas.train.trainer import autocast_for, make_optimizer, optimise, training_batch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_seconds(genotype, data, device: torch.device, steps: int, mode: str | None) -> dict[str, float]:  # noqa: ANN001
    """The first step's seconds and the median of ``steps`` later ones, eager (``mode`` None) or
    compiled in ``mode``."""
    torch._dynamo.reset()  # every candidate is new to the compiler, as in a search
    torch._inductor.config.fx_graph_cache = False  # no code cached on disk by an earlier run
    torch._functorch.config.enable_autograd_cache = False
    cfg = TrainConfig()
    torch.manual_seed(0)
    memory = torch.channels_last
    model = build_model(genotype).to(device=device, memory_format=memory).train()
    opt = make_optimizer(model, cfg, device)
    autocast = autocast_for(device, cfg)
    run = model if mode is None else torch.compile(model, mode=None if mode == "default" else mode)
    dd = DeviceData.get(data, genotype.resolution, device)
    gen = torch.Generator(device=device)
    gen.manual_seed(0)
    batches = [training_batch(dd, torch.randint(0, len(dd.y_train), (64,), device=device, generator=gen), gen, memory)
               for _ in range(steps + 1)]
    times = []
    for xb, yb in batches:
        synchronize(device)
        start = time.perf_counter()
        optimise(run, opt, xb, yb, cfg.label_smoothing, autocast)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"first_s": times[0], "step_s": statistics.median(times[len(times) // 4:])}


def compare(name: str, genotype, data, device: torch.device, steps: int, modes: list[str]) -> dict[str, object]:  # noqa: ANN001
    eager = step_seconds(genotype, data, device, steps, None)
    row: dict[str, object] = {"model": name, "resolution": genotype.resolution,
                              "flops": estimate_cost(genotype).flops, "eager_step_s": eager["step_s"]}
    for mode in modes:
        compiled = step_seconds(genotype, data, device, steps, mode)
        saving = eager["step_s"] - compiled["step_s"]
        row[mode] = {"compile_s": compiled["first_s"] - eager["step_s"], "step_s": compiled["step_s"],
                     "speedup": eager["step_s"] / compiled["step_s"],
                     "break_even_steps": (compiled["first_s"] - eager["step_s"]) / saving if saving > 0 else None}
        c = row[mode]
        even = f"{c['break_even_steps']:.0f}" if c["break_even_steps"] is not None else "never"
        print(f"{name:28s} {genotype.resolution:3d}px {row['flops'] / 1e6:6.2f}M flops  {mode:15s} eager "
              f"{1e3 * eager['step_s']:6.1f} ms/step, compiled {1e3 * c['step_s']:6.1f} (x{c['speedup']:.2f}), "
              f"compile {c['compile_s']:5.1f} s, pays after {even} steps", flush=True)
    return row


def main() -> None:
    device = torch.device(argument("device", "cpu"))
    if device.type == "cuda" and not cuda_or_say("bench.compile_step device=cuda"):
        return
    steps = int(argument("steps", "10" if quick() else "40"))
    modes = ["default"] + (["reduce-overhead"] if device.type == "cuda" else [])
    data = load_dataset("cluttered")
    space = load_space("mobile")
    models = [(g.name, g) for g in space.reference_genotypes(data.in_channels, data.num_classes)]
    models.append(("largest", largest_genotype(space, data.in_channels, data.num_classes)))
    wanted = argument("models", "")
    if wanted:
        models = [(name, g) for name, g in models if name in wanted.split(",")]
    if quick():
        models = models[:1]
    brief_steps = max(1, len(data.y_train) // TrainConfig().batch_size) * (TrainConfig().epochs or 1.0)
    print(f"torch.compile against eager, the trainer's step on {device} ({torch.get_num_threads()} threads); "
          f"the brief budget is {brief_steps:.0f} steps (1 epoch of cluttered, batch 64); FLOPs: fvcore's count, "
          f"1 multiply-add = 1 flop, batch 1")
    rows = [compare(name, replace(g, name=name), data, device, steps, modes) for name, g in models]
    save(f"compile_step_{device.type}", {"device": device.type, "steps": steps, "brief_budget_steps": brief_steps,
                                         "torch": torch.__version__, "rows": rows,
                                         "command": "python -m bench.compile_step " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
