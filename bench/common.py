"""Shared helpers: where figures go and what machine made them."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "bench"
sys.path.insert(0, str(ROOT))
optuna.logging.set_verbosity(optuna.logging.WARNING)


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def save(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2, default=str) + "\n")
    print(f"saved {path}")
    return path


def cuda_or_say(name: str) -> bool:
    """Whether a CUDA GPU is visible; where none is, says that ``name`` needs one."""
    if not torch.cuda.is_available():
        print(f"{name} needs a CUDA GPU; none is visible here")
    return torch.cuda.is_available()


def parts_asked(every: tuple[str, ...]) -> list[str]:
    """The parts named on the command line (words without '='), or ``every`` part."""
    return [a for a in sys.argv[1:] if "=" not in a] or list(every)


def argument(name: str, default: str) -> str:
    """The value of ``name=VALUE`` on the command line, or ``default``."""
    return next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith(name + "=")), default)


def quick() -> bool:
    """BENCH_QUICK=1 shrinks every benchmark to a smoke run (for trying the scripts)."""
    return os.environ.get("BENCH_QUICK") == "1"
