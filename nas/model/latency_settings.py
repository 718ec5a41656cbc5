"""Where and how a latency is measured (torch-free: the CLI's help and checks read it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError, allowed

RUNTIMES = ("torch-cpu", "torch-cuda", "onnxruntime")


@dataclass(frozen=True)
class LatencySettings:
    """Where and how a latency is measured; part of every figure's convention."""

    runtime: str = "torch-cpu"
    batch: int = 1
    threads: int = 1  # a single core: repeatable, and what one inference on a device core gets
    # Warm-up, sample and block sizes: python -m bench.latency (BENCHMARKS.md §13) measured these
    # against the first settings (5 passes / 0.05 s warm-up, 2 ms samples, blocks of 10) side by side
    # in three runs: median agreement between processes within noise of theirs (1.9-4.4% against
    # 0.8-4.1%, torch-cpu), at a quarter of the cost (3.5% of a demo trial against 13.7%).
    warmup: int = 3
    warmup_s: float = 0.01
    sample_s: float = 0.001
    block: int = 5
    max_blocks: int = 30
    agree: float = 0.02

    def check(self) -> None:
        if self.runtime not in RUNTIMES:
            raise UserError(f"--latency-on {self.runtime!r}: allowed: {allowed(RUNTIMES)}")
        if self.batch < 1 or self.threads < 1:
            raise UserError(f"--latency-batch and the thread count must be >= 1, got {self.batch}, {self.threads}")
        import torch

        if self.runtime == "torch-cuda" and not torch.cuda.is_available():
            raise UserError("--latency-on torch-cuda: no CUDA device is available here; "
                            f"allowed here: {allowed(('torch-cpu', 'onnxruntime'))}")
        if self.runtime == "onnxruntime":
            try:
                import onnx  # noqa: F401
                import onnxruntime  # noqa: F401
            except ImportError:
                raise UserError("--latency-on onnxruntime: the onnx and onnxruntime packages are not "
                                "installed (pip install 'nas-toolkit[export]')") from None

    def describe(self) -> str:
        return (f"median forward pass, eval mode, batch {self.batch}, {self.threads} thread(s), "
                f"{self.runtime} {runtime_version(self.runtime)}")




def runtime_version(runtime: str) -> str:
    if runtime == "onnxruntime":
        import onnxruntime

        return onnxruntime.__version__
    import torch

    return torch.__version__
