"""The rungs of successive halving: a screen at initialisation where asked, then budgets
``min_epochs x eta^k`` up to ``max_epochs``.

Plain settings (no torch), recorded on the study so that resumed runs, workers and reports use
the same rungs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UserError
from .signals import SIGNALS

FIDELITIES = ("single", "sh")
SCREENS = tuple(name for name, kind in SIGNALS.items() if kind.at_init)  # what a screen may rank by
SCREEN_KEY = "0"  # the screen is the rung at 0 epochs


@dataclass(frozen=True)
class Rungs:
    # The defaults: a NASWOT screen at initialisation, then the top 1/9 trained for 9 epochs. On
    # our own table (BENCHMARKS.md §16, bench/replay, 20 repeats at 400 epochs, judged on an
    # independent seed) halving over trained rungs alone (1 -> 20 epochs) stayed below single
    # fidelity at the top budget (0.508 against 0.630), a 1-epoch rung ranking long training at
    # tau +0.20 only; a NASWOT screen (tau +0.50) straight to the top budget reached 0.714 at
    # eta 3 and 0.764 at eta 9 (+2.33 sd over halving without it), and adding the 1-epoch rung
    # after the screen lost that again (0.567 / 0.406). End to end (bench.end_to_end, 3 repeats,
    # fronts retrained): ahead of the old rungs in 2 of 3 (+0.18), level with single fidelity at
    # 9 epochs (-0.07, within noise). The top budget of 9 epochs is the earlier default's, a budget
    # choice (the table holds 1 and 20 epochs only).
    min_epochs: float = 9.0
    max_epochs: float = 9.0
    eta: float = 9.0
    # cool-down share of each rung (nas.train.extendable.StableDecay; BENCHMARKS.md §11)
    cooldown: float = 0.2
    # a zero-cost signal at initialisation that ranks every candidate before any training (the
    # rung at 0 epochs, key "0"); only its top 1/eta are trained. None: the first rung trains.
    screen: str | None = "naswot"

    def __post_init__(self) -> None:
        if not self.min_epochs > 0:
            raise UserError(f"--min-epochs must be positive, got {self.min_epochs:g}")
        if not self.eta > 1:
            raise UserError(f"--eta must be greater than 1, got {self.eta:g}")
        if self.max_epochs < self.min_epochs:
            raise UserError(f"--max-epochs {self.max_epochs:g} is below --min-epochs {self.min_epochs:g}")
        if self.screen is not None and self.screen not in SCREENS:
            raise UserError(f"--screen {self.screen}: allowed: {', '.join(SCREENS)} (signals at initialisation), or none")
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

    @property
    def keys(self) -> list[str]:
        """Every rung's key, lowest first: the screen's ("0") where there is one, then the
        trained rungs' (their epochs)."""
        return ([SCREEN_KEY] if self.screen else []) + [rung_key(e) for e in self.epochs]

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
        """The rungs a study recorded; a study from before screens had none."""
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**{"screen": None, **known})


def rung_key(epochs: float) -> str:
    """How a rung is named in records and frame columns: its epochs, ``1``, ``3``, ``0.5``."""
    return f"{epochs:g}"
