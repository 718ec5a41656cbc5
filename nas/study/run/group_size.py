"""How many candidates a grouped loop trains at once (``--group K|auto``), checked before
anything is written.

``--group K`` is taken as given once it fits: on a GPU, K times the estimated working set of the
space's largest candidate (:func:`nas.model.memory.training_bytes`, at the run's batch size) must
fit in the device's free memory beside the data, or the command stops with one line saying how
many fit. ``--group auto`` takes as many as fit, at most :data:`AUTO_CAP` (1 as measured, see there). On the CPU a group's
candidates train one after another (nas.train.group), so memory never limits K there, and ``auto``
is 1: nothing is gained by asking ahead where the trainer fills the cores (BENCHMARKS.md §2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ...errors import UserError
from .placement import CUDA_CONTEXT_BYTES, GIB

if TYPE_CHECKING:
    from ...arch.genotype import Genotype

# Measured on an H200 (BENCHMARKS.md §14, 2026-12-04, bench.gpu_group, 16 trials each): --group 4
# ran x1.19 the trials/hour of --group 1 with the GPU busy 2.5-2.7% (time goes to the host's
# per-candidate work, not to training), while a group of 4 costs the sampler x1.26 the trials to
# random search's front on mobile/cluttered (§14, CPU replay, 10 seeds). A group does not pay
# there, so auto takes 1 until a measurement shows it does; --group K stays the user's to ask.
AUTO_CAP = 1
DEFAULT_GROUP = 1


def parse_group(text: str | int) -> int | str:
    """``--group``'s value: a whole number >= 1, or ``auto``."""
    if text == "auto":
        return "auto"
    try:
        k = int(text)
    except (TypeError, ValueError):
        raise UserError(f"--group {text!r}: expected a whole number of candidates >= 1, or auto") from None
    if k < 1:
        raise UserError(f"--group {k}: a group holds at least 1 candidate (1: one at a time); allowed: "
                        f"a whole number >= 1, or auto")
    return k


def group_size(requested: int | str, device: str, candidate_bytes: Callable[[], int],
               data_bytes: Callable[[], int], free_memory: Callable[[str], tuple[int, int]] | None = None,
               cap: int = AUTO_CAP) -> int:
    """The group size to run with on ``device`` (``cpu`` or ``cuda:N``); refuses a ``--group K``
    whose K candidates cannot fit in the GPU's free memory. ``free_memory(device)`` gives (free,
    total) bytes (default: the CUDA driver's figures); ``cap`` bounds ``auto``."""
    requested = parse_group(requested)
    if not device.startswith("cuda"):
        return 1 if requested == "auto" else requested
    free, total = (free_memory or cuda_free_memory)(device)
    each = candidate_bytes()
    room = free - CUDA_CONTEXT_BYTES - data_bytes()
    fit = max(0, room // each)
    if requested == "auto":
        return max(1, min(cap, fit))
    if requested > fit:
        raise UserError(f"--group {requested}: {requested} candidates of up to {each / GIB:.2f} GiB each (the "
                        f"space's largest at this batch size) need {requested * each / GIB:.1f} GiB on {device}, "
                        f"but {free / GIB:.1f} of {total / GIB:.1f} GiB are free there (less the data and the "
                        f"CUDA context); at most {fit} fit: lower --group, or use --group auto")
    return requested


def group_on(requested: int | str, devices: list[str], genotypes: Callable[[], Iterable["Genotype"]],
             batch_size: int, data_bytes: Callable[[], int]) -> int:
    """The group size every device in ``devices`` holds: :func:`group_size` for the largest
    training working set among ``genotypes`` (estimated only where a GPU is checked)."""
    from ...model.memory import training_bytes

    def each() -> int:
        return max(training_bytes(g, batch_size) for g in genotypes())

    return min(group_size(requested, device, each, data_bytes) for device in devices)


def cuda_free_memory(device: str) -> tuple[int, int]:
    import torch

    return torch.cuda.mem_get_info(torch.device(device))
