"""The rungs of successive halving: budgets ``min_epochs x eta^k`` up to ``max_epochs``.

Plain settings (no torch), recorded on the study so that resumed runs, workers and reports use
the same rungs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UserError

FIDELITIES = ("single", "sh")


@dataclass(frozen=True)
class Rungs:
    # 1 / 9 / 3: the first rung is the single-fidelity default (1 epoch, BENCHMARKS.md §4) and
    # eta 3 gives 3 rungs up to 9 epochs. Not tuned: the one setting measured (BENCHMARKS.md §11b,
    # bench/halving) spanned x4.8 FLOPs but did not beat single fidelity's hypervolume.
    min_epochs: float = 1.0
    max_epochs: float = 9.0
    eta: float = 3.0
    # cool-down share of each rung (nas.train.extendable.StableDecay; BENCHMARKS.md §11)
    cooldown: float = 0.2

    def __post_init__(self) -> None:
        if not self.min_epochs > 0:
            raise UserError(f"--min-epochs must be positive, got {self.min_epochs:g}")
        if not self.eta > 1:
            raise UserError(f"--eta must be greater than 1, got {self.eta:g}")
        if self.max_epochs < self.min_epochs:
            raise UserError(f"--max-epochs {self.max_epochs:g} is below --min-epochs {self.min_epochs:g}")
        if not 0 < self.cooldown < 1:
            raise UserError(f"cool-down share must be in (0, 1), got {self.cooldown:g}")
        k = math.log(self.max_epochs / self.min_epochs) / math.log(self.eta)
        if abs(k - round(k)) > 1e-6:
            below = self.min_epochs * self.eta ** math.floor(k)
            above = self.min_epochs * self.eta ** math.ceil(k)
            raise UserError(f"--max-epochs {self.max_epochs:g} is not on the rungs --min-epochs x --eta^k "
                            f"({self.min_epochs:g} x {self.eta:g}^k); give --max-epochs {below:g} or {above:g}")

    @property
    def epochs(self) -> list[float]:
        """Each rung's budget in epochs, lowest first."""
        count = round(math.log(self.max_epochs / self.min_epochs) / math.log(self.eta)) + 1
        return [self.min_epochs * self.eta ** k for k in range(count - 1)] + [self.max_epochs]

    def epochs_to_reach(self, index: int) -> float:
        """Epochs a candidate scored at rung ``index`` has trained, cool-downs included: that
        rung's epochs plus the cool-down branch of every rung it passed
        (:mod:`nas.train.extendable`). What successive halving spent on it: the compute that
        equal-compute comparisons count (bench/replay.py)."""
        epochs = self.epochs
        return epochs[index] + self.cooldown * sum(epochs[:index])

    @property
    def warmup_epochs(self) -> float:
        """Warm-up of every run: the single-fidelity share (0.15) of the first rung."""
        return 0.15 * self.min_epochs

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sh", **asdict(self)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> "Rungs":
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})


def rung_key(epochs: float) -> str:
    """How a rung is named in records and frame columns: its epochs, ``1``, ``3``, ``0.5``."""
    return f"{epochs:g}"
