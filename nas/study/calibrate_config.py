"""What ``nas calibrate`` is asked to do: one dataclass, torch-free (``nas calibrate --help``
shows its defaults)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import UserError
from ..train.config import DEFAULT_TEST_FRACTION, TrainConfig
from .store.defaults import DEFAULT_STORAGE_RETRY


@dataclass
class CalibrateConfig:
    """What ``nas calibrate`` is asked to do (the CLI takes its defaults from here)."""

    space: str = "mobile"
    dataset: str = "mnist5k"
    study: str | None = None  # default: calibrate-<space>-<dataset>
    # 24 random genotypes + the space's references, brief budgets 1 and 2 epochs, a 10-epoch
    # target with 2 seeds: for `mobile` on `cluttered` with --flops-max 20M, 24 genotypes (27
    # architectures) took 10 min 8 s on this 2-core machine (16 took 7 min 21 s), inside issue
    # 31's 15 minutes, and gave NASWOT's tau a 95% interval of +/-0.17 (19 architectures: +/-0.25;
    # BENCHMARKS.md §4b).
    # Budget 4 is left out: at 2 epochs the trained signals already cost 20x NASWOT's and ranked
    # no better on either task (§4b).
    samples: int = 24
    budgets: tuple[float, ...] = (1.0, 2.0)
    target_epochs: float = 10.0
    seeds: int = 2
    seed: int = 0
    flops_max: float | None = None
    # The recommendation: the cheapest signal whose tau is within this of the best (the bootstrap
    # intervals of tau on ~20 genotypes are +/-0.15 wide, so a finer margin would be noise).
    margin: float = 0.05
    train: TrainConfig = field(default_factory=TrainConfig)
    storage: str | None = None
    storage_retry: float = DEFAULT_STORAGE_RETRY
    workers: int = 1
    workers_per_device: int | None = None
    device: str = "auto"
    val_fraction: float = 0.2
    test_fraction: float = DEFAULT_TEST_FRACTION

    def __post_init__(self) -> None:
        if self.samples < 2:
            raise UserError(f"--samples must be >= 2, got {self.samples}")
        if not self.budgets or any(not b > 0 for b in self.budgets):
            raise UserError(f"--budgets must be positive epochs, e.g. 1,2,4; got {','.join(map(str, self.budgets))}")
        if not self.target_epochs > max(self.budgets):
            raise UserError(f"--target-epochs {self.target_epochs:g} must exceed the largest brief budget "
                            f"({max(self.budgets):g})")
        if self.seeds < 2:
            raise UserError(f"--seeds must be >= 2 (their agreement is the ceiling), got {self.seeds}")
        if self.workers < 1:
            raise UserError(f"--workers must be >= 1, got {self.workers}")
        if not 0 <= self.margin < 1:
            raise UserError(f"--margin must be in [0, 1), got {self.margin:g}")

    @property
    def study_name(self) -> str:
        return self.study or default_study_name(self.space, self.dataset)


def default_study_name(space: str, dataset: str) -> str:
    """``calibrate-<space>-<dataset>``, reduced to characters a folder name takes."""
    stem = lambda text: re.sub(r"[^A-Za-z0-9_.-]+", "_", text.split("/")[-1].removesuffix(".yaml"))  # noqa: E731
    return f"calibrate-{stem(space)}-{stem(dataset)}"
