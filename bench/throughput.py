"""Training throughput: our trainer versus a plain PyTorch loop, side by side in one process.

The plain loop is what most people write: a DataLoader over a TensorDataset (float images
normalised once up front), NCHW, fp32, no augmentation, no BN recalibration. Our trainer keeps
uint8 data on the device, augments with tensor ops, runs channels_last (bf16 autocast on CUDA).
Both train the same genotypes on the same data for the same number of epochs, alternating
(ours, plain, ours, plain, ...) so machine noise hits both; the figure is the ratio of
images/s. On CUDA it also reports ours with and without bf16 and channels_last, after one untimed
round, and two larger models (saved as throughput_cuda).

    python -m bench.throughput            # CPU-sized: 3 models from the search spaces
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from bench.common import quick, save
from nas.model.builder import build_model
from nas.model.cost import estimate_cost
from nas.train.sources import load_dataset
from nas.arch.space_file import load_space
from nas.train.trainer import DeviceData, TrainConfig, train_candidate


def plain_loop(genotype, data, epochs: float, batch_size: int, lr: float, device: torch.device) -> float:
    """images/s of a plain loop (training only, like ours: build and data excluded)."""
    torch.manual_seed(0)
    x, _ = data.at_resolution(genotype.resolution)
    xf = x.float() / 255.0
    xf = (xf - xf.mean()) / xf.std()
    loader = DataLoader(TensorDataset(xf, data.y_train), batch_size=batch_size, shuffle=True, drop_last=True)
    model = build_model(genotype).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = int(len(loader) * epochs)
    seen, step = 0, 0
    model.train()
    start = time.perf_counter()
    while step < steps:
        for xb, yb in loader:
            if step >= steps:
                break
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(yb)
            step += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def step_ceiling(genotype, batch_size: int, lr: float, device: torch.device, steps: int = 30) -> float:
    """images/s of forward + backward + optimizer step alone, channels_last, on one batch already
    in memory: no data pipeline at all, so no fp32 training loop of this model on this device can
    beat it by much. Ours / plain can reach at most ceiling / plain."""
    torch.manual_seed(0)
    model = build_model(genotype).to(device=device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          fused=device.type in ("cpu", "cuda"))
    x = torch.randn(batch_size, genotype.in_channels, genotype.resolution, genotype.resolution,
                    device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, genotype.num_classes, (batch_size,), device=device)
    model.train()
    for i in range(steps + 5):
        if i == 5:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Hardware flop/s of a large square matmul in ``dtype``: the practical peak this device
    reaches on dense work (multiply and add counted as 2 flops, as hardware peaks are). On a GPU
    the product is 8192 wide and repeated 20 times: a 2048 one is too short to fill an H100."""
    if device.type == "cuda":
        n, repeats = max(n, 8192), max(repeats, 20)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return repeats * 2 * n ** 3 / (time.perf_counter() - start)


def training_flops_per_s(images_per_s: float, fvcore_flops: int) -> float:
    """Hardware flop/s a training run sustains: fvcore counts a multiply-add as 1 flop (x2 for
    hardware flops), and a training step costs about 3 forward passes (forward + backward)."""
    return images_per_s * fvcore_flops * 2 * 3


def variants(cfg: TrainConfig, device: torch.device) -> dict[str, TrainConfig]:
    """Our trainer's settings timed against each other: the defaults, channels_last off, and on
    CUDA bf16 off with channels_last on and off."""
    out = {"ours": cfg, "ours_nchw": replace(cfg, channels_last=False)}
    if device.type == "cuda":
        out["ours_no_bf16"] = replace(cfg, bf16=False)
        out["ours_no_bf16_no_channels_last"] = replace(cfg, bf16=False, channels_last=False)
    return out


def models_for(device: torch.device, data) -> list[tuple[str, object]]:  # noqa: ANN001
    """The search spaces' small references at their own resolution (32 px); on CUDA also two at 112
    pixels (x12 the FLOPs), to see whether a GPU is still idle between kernel launches there."""
    models = []
    for space_name, index in (("mobile", 0), ("mobile", 2), ("efficientnetv2", 0), ("resnet", 0)):
        g = load_space(space_name).reference_genotypes(data.in_channels, data.num_classes)[index]
        models.append((f"{space_name}/{g.name}", g))
    if device.type == "cuda":
        models += [(f"{name} at 112 px", replace(g, resolution=112)) for name, g in models if "mobilenetv2" in name or "efficientnetv2" in name]
    return models


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_dataset("mnist5k")
    epochs = 0.5 if quick() else 1.0
    # Repeats alternate the variants (ours, ..., plain, bare steps, ours, ...) so that machine noise
    # hits all; on CUDA one untimed round first loads each variant's kernels (lazy module loading
    # made whichever variant ran first look ~x1.5 slower in the first GPU run).
    repeats = 1 if quick() else (3 if device.type == "cuda" else 2)
    warmup = 1 if device.type == "cuda" else 0
    cfg = TrainConfig(epochs=epochs, bn_recalibration_batches=0)
    rows = []
    for name, g in models_for(device, data):
        DeviceData.get(data, g.resolution, device)  # resize once, outside the timings
        timed: dict[str, list[float]] = {}
        for round_ in range(warmup + repeats):
            measured = {label: train_candidate(g, data, variant, device).images_per_sec
                        for label, variant in variants(cfg, device).items()}
            measured["plain"] = plain_loop(g, data, epochs, cfg.batch_size, cfg.lr, device)
            measured["ceiling"] = step_ceiling(g, cfg.batch_size, cfg.lr, device)
            if round_ >= warmup:
                for label, value in measured.items():
                    timed.setdefault(label, []).append(value)
        row = {"model": name, "flops": estimate_cost(g).flops,
               **{f"{label}_img_s": statistics.median(values) for label, values in timed.items()}}
        row["speedup"] = row["ours_img_s"] / row["plain_img_s"]
        row["ceiling_speedup"] = row["ceiling_img_s"] / row["plain_img_s"]
        row["channels_last_gain"] = row["ours_img_s"] / row["ours_nchw_img_s"]  # what the default buys
        row["spread"] = {label: (min(v) / statistics.median(v), max(v) / statistics.median(v)) for label, v in timed.items()}
        rows.append(row)
        print(f"{name:32s} {row['flops'] / 1e6:6.2f}M FLOPs  ours {row['ours_img_s']:7.0f} img/s  "
              f"plain {row['plain_img_s']:7.0f} img/s  x{row['speedup']:.2f}  "
              f"(bare steps {row['ceiling_img_s']:7.0f} img/s: at most x{row['ceiling_speedup']:.2f}); "
              f"channels_last x{row['channels_last_gain']:.2f}"
              + "".join(f"; {label[5:]} {row[label + '_img_s']:.0f}" for label in timed if label.startswith("ours_no")),
              flush=True)
    largest = max(rows, key=lambda r: r["flops"])
    peak = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    best = max(v for k, v in largest.items() if k.startswith("ours") and k.endswith("_img_s"))
    fraction = training_flops_per_s(best, largest["flops"]) / peak
    print(f"largest model ({largest['model']}, its fastest setting): {100 * fraction:.2f}% of a "
          f"{8192 if device.type == 'cuda' else 2048}^2 {'bf16' if device.type == 'cuda' else 'fp32'} matmul's "
          f"{peak / 1e9:.0f} GFLOP/s on {device} (training flops = images/s x 3 x 2 x fvcore FLOPs)")
    geo = statistics.geometric_mean([r["speedup"] for r in rows])
    geo_ceiling = statistics.geometric_mean([r["ceiling_speedup"] for r in rows])
    geo_cl = statistics.geometric_mean([r["channels_last_gain"] for r in rows])
    print(f"channels_last against NCHW in our trainer: x{geo_cl:.2f} (geometric mean)")
    print(f"geometric-mean speed-up over the plain loop: x{geo:.2f} on {device} (goal x2.5 on CPU); "
          f"bare fp32 channels_last steps would give x{geo_ceiling:.2f}")
    save("throughput" if device.type == "cpu" else "throughput_cuda",
         {"device": str(device), "epochs": epochs, "repeats": repeats, "warmup_rounds": warmup,
          "batch_size": cfg.batch_size, "rows": rows, "geomean_speedup": geo,
          "geomean_ceiling_speedup": geo_ceiling, "geomean_channels_last_gain": geo_cl,
          "largest_model_fraction_of_matmul_peak": fraction, "matmul_peak_flops": peak,
          "command": "python -m bench.throughput"})


if __name__ == "__main__":
    main()
