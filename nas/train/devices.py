"""Which device a command may run on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked before
anything is written, so that a device that is not there is one line and exit code 2 instead of
torch's ``AssertionError: Torch not compiled with CUDA enabled`` after the study was created."""

from __future__ import annotations

import re

from ..errors import UserError

DEVICE_HELP = "auto | cpu | cuda | cuda:N"


def check_device(device: str, flag: str = "--device") -> None:
    """Refuse ``device`` where it is malformed or not on this machine, naming what is."""
    if device in ("auto", "cpu"):
        return
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise UserError(f"{flag} {device!r}: allowed: auto, cpu, cuda, cuda:N")
    import torch

    if not torch.cuda.is_available():
        why = ("this torch is built for the CPU only" if torch.version.cuda is None else
               "no CUDA GPU is visible")
        raise UserError(f"{flag} {device}: {why} (torch {torch.__version__}); use --device cpu (or auto)")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise UserError(f"{flag} {device}: this machine has {count} CUDA GPU(s): "
                        + ", ".join(f"cuda:{i}" for i in range(count)))
