"""Measured latency of a genotype's network: the median time of a forward pass, in eval mode,
after warm-up, on a chosen runtime, with the thread count pinned and recorded.

FLOPs are a poor proxy for speed, above all for MBConv networks whose depthwise convolutions do
few FLOPs per byte moved: MnasNet measured latency on its target phone and searched under it.
This module is that measurement, on the runtime where the user will deploy:

* ``torch-cpu``: eager PyTorch on the CPU, fp32, channels_last (as the trainer runs), under
  ``torch.inference_mode``;
* ``torch-cuda``: the same on a GPU, timed between ``torch.cuda.synchronize`` calls;
* ``onnxruntime``: the network exported to ONNX in memory and run by onnxruntime's CPU session.

Timing: untimed warm-up passes (at least ``warmup`` and ``warmup_s`` seconds: the first passes in
a process set up kernels), then samples of as many passes as take ``sample_s`` (so that a 0.05 ms
network is not timed at the clock's resolution; a sample's time is divided by its passes), in
blocks of ``block`` samples until two consecutive block medians agree within ``agree`` (or
``max_blocks`` blocks ran); the figure is the median of every sample. Threads are pinned (``torch.set_num_threads``, or the onnxruntime session's
intra-op threads) for the measurement and restored after it.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch

from ..arch.genotype import Genotype
from .builder import build_model
from .latency_settings import RUNTIMES, LatencySettings, runtime_version  # noqa: F401 - public here too

@dataclass(frozen=True)
class Latency:
    """One measurement: the median in milliseconds, how many timed passes, whether it settled."""

    ms: float
    runs: int
    settled: bool  # two consecutive block medians agreed within settings.agree
    settings: LatencySettings
    convention: str

    def to_dict(self) -> dict[str, object]:
        return {"ms": self.ms, "runs": self.runs, "settled": self.settled, "convention": self.convention,
                "settings": asdict(self.settings)}


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _torch_runner(model: torch.nn.Module, x: torch.Tensor, cuda: bool) -> Callable[[], None]:
    device = torch.device("cuda" if cuda else "cpu")
    model = model.to(device, memory_format=torch.channels_last)
    x = x.to(device, memory_format=torch.channels_last)

    def run() -> None:
        with torch.inference_mode():
            model(x)
        if cuda:
            torch.cuda.synchronize()
    return run


def _onnx_runner(model: torch.nn.Module, x: torch.Tensor, threads: int) -> Callable[[], None]:
    import onnxruntime as ort

    buffer = io.BytesIO()
    # The TorchScript-based exporter, as `export` uses (the torch.export one needs onnxscript).
    # Constant folding is left to onnxruntime's own graph optimizer (on by default) when the session
    # loads: the same graph runs, and the export takes ~10% less time (60 against 67 ms here).
    torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["input"], output_names=["logits"],
                      do_constant_folding=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    return lambda: session.run(None, feed)


def measure_latency(genotype: Genotype, settings: LatencySettings = LatencySettings()) -> Latency:
    """The network of ``genotype`` (untrained: weights do not change the time) timed as above."""
    settings.check()
    model = build_model(genotype).eval()
    x = torch.randn(settings.batch, genotype.in_channels, genotype.resolution, genotype.resolution)
    with pinned_threads(settings.threads):
        if settings.runtime == "onnxruntime":
            run = _onnx_runner(model, x, settings.threads)
        else:
            run = _torch_runner(model, x, settings.runtime == "torch-cuda")
        start, passes = time.perf_counter(), 0
        while passes < settings.warmup or time.perf_counter() - start < settings.warmup_s:
            run()
            passes += 1
        per_sample = max(1, round(settings.sample_s * passes / (time.perf_counter() - start)))
        times: list[float] = []
        previous: float | None = None
        settled = False
        for _ in range(settings.max_blocks):
            block = []
            for _ in range(settings.block):
                start = time.perf_counter()
                for _ in range(per_sample):
                    run()
                block.append((time.perf_counter() - start) / per_sample)
            times += block
            median = statistics.median(block)
            if previous is not None and abs(median - previous) <= settings.agree * previous:
                settled = True
                break
            previous = median
    return Latency(1000 * statistics.median(times), len(times), settled, settings, settings.describe())
