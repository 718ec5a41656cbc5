"""Which device each worker gets, and whether that many workers fit in a GPU's memory.

A small candidate trained alone leaves most of a GPU idle, so ``--workers-per-device K`` puts K
workers on each GPU (the CPU counts as one device). Each such worker is capped at 1/K of the
device's memory (``torch.cuda.set_per_process_memory_fraction``), so that one large candidate
runs out of *its* share, is recorded as a failed trial (CUDA out of memory) and the search goes
on, instead of starving the others. Before any worker starts, the free memory of each GPU is
checked against K times a worker's floor: the CUDA context plus the data each worker keeps on
the device; too many workers is one clear error, not K crashed processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ...errors import UserError
from ...train.devices import check_device

GIB = 1024 ** 3
# A worker's CUDA context and allocator reserve before any tensor: an estimate (PyTorch's
# CUDA context is typically 0.3-0.5 GiB). The floor is a lower bound: on an H100, 4 and 8 demo
# workers held 4.9 and 8.6 GiB in all (NVML), ~1.1-1.2 GiB each (BENCHMARKS.md §14).
CUDA_CONTEXT_BYTES = GIB // 2
# The smallest training working set worth starting a worker for (model, optimizer state and
# activations of the small candidates at batch 64-256): an estimate, as above.
MIN_TRAINING_BYTES = GIB // 4


def gpu_ids_in_use(device: str, gpu_ids: list[int] | None = None) -> list[int] | None:
    """The GPUs the workers share: the one named by ``cuda:N``, else ``gpu_ids`` or every visible
    one; None where the workers run on the CPU."""
    import torch

    if not device.startswith("cuda") and device != "auto" or not torch.cuda.is_available():
        return None
    if device.startswith("cuda:"):
        return [int(device.split(":", 1)[1])]
    return gpu_ids or list(range(torch.cuda.device_count()))


def assign_devices(device: str, workers: int, gpu_ids: list[int] | None = None,
                   per_device: int | None = None) -> list[str]:
    """Worker i's device: round-robin over the GPUs in use (:func:`gpu_ids_in_use`), at most
    ``per_device`` on each; else the CPU."""
    ids = gpu_ids_in_use(device, gpu_ids)
    if ids is None:
        return [device if device != "auto" else "cpu"] * workers
    if per_device is not None and workers > per_device * len(ids):
        raise UserError(f"--workers {workers} with --workers-per-device {per_device}: the "
                        f"{len(ids)} GPU(s) in use ({', '.join(f'cuda:{i}' for i in ids)}) hold at most "
                        f"{per_device * len(ids)} workers; lower --workers or raise --workers-per-device")
    return [f"cuda:{ids[i % len(ids)]}" for i in range(workers)]


def workers_wanted(workers: int | None, per_device: int | None, device: str, gpu_ids: list[int] | None) -> int:
    """``--workers``, or K per device where only ``--workers-per-device K`` is given."""
    if workers is not None:
        return workers
    if per_device is None:
        return 1
    ids = gpu_ids_in_use(device, gpu_ids)
    return per_device * (len(ids) if ids is not None else 1)  # the CPU counts as one device


def worker_floor_bytes(data_bytes: int) -> int:
    """What one worker needs on its GPU at least: context, the data it keeps there, training."""
    return CUDA_CONTEXT_BYTES + data_bytes + MIN_TRAINING_BYTES


def memory_shares(devices: list[str]) -> list[float]:
    """Worker i's share of its device's memory (1/K for K workers on a GPU; 1.0 on the CPU)."""
    counts = Counter(devices)
    return [1.0 / counts[d] if d.startswith("cuda") else 1.0 for d in devices]


def check_gpu_memory(devices: list[str], per_worker_bytes: int) -> None:
    """Refuse, before starting anything, a placement whose workers cannot fit in a GPU's free
    memory."""
    import torch

    for device, k in Counter(d for d in devices if d.startswith("cuda")).items():
        free, total = torch.cuda.mem_get_info(torch.device(device))
        if free < k * per_worker_bytes:
            fit = max(0, free // per_worker_bytes)
            raise UserError(f"{k} workers on {device} need at least {k * per_worker_bytes / GIB:.1f} GiB "
                            f"({per_worker_bytes / GIB:.2f} GiB each: CUDA context, the data on the device, "
                            f"a small training working set) but {free / GIB:.1f} of {total / GIB:.1f} GiB "
                            f"are free; at most {fit} fit: lower --workers-per-device or --workers")


def place_workers(device: str, workers: int, per_device: int | None = None, gpu_ids: list[int] | None = None,
                  data_bytes: Callable[[], int] = lambda: 0) -> list[str]:
    """Each worker's device (:func:`assign_devices`), refused before anything starts where the GPU
    workers cannot fit (:func:`check_gpu_memory`); ``data_bytes`` (asked only on a GPU) is what a
    worker keeps on its device."""
    check_device(device)
    devices = assign_devices(device, workers, gpu_ids, per_device)
    if any(d.startswith("cuda") for d in devices):
        check_gpu_memory(devices, worker_floor_bytes(data_bytes()))
    return devices


def dataset_bytes(tensors: object) -> int:
    """Bytes of the tensors a worker keeps on its device (a Dataset at one resolution)."""
    return sum(x.numel() * x.element_size() for x in tensors)  # type: ignore[attr-defined]
