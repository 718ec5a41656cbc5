"""What training a candidate takes and gives: its settings, its result, and the call every trainer
answers (:func:`nas.train.trainer.train_candidate`, and the fakes and runs tests and workloads pass).
Torch-free, so that ``nas --help`` and the configuration dataclasses built on these import no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .signals import Signals

if TYPE_CHECKING:
    from torch import nn

# The held-out test share carved before the train/validation split, where the data has no test
# set of its own (search never reads it; retrain scores on it).
DEFAULT_TEST_FRACTION = 0.2


class CandidateFailed(Exception):
    """The candidate could not be trained (NaN loss, out of memory, ...); the search goes on."""


@dataclass
class TrainConfig:
    # 1 epoch: on the harder task (cluttered), 60 random mobile-space genotypes ranked at Kendall
    # tau +0.25 / +0.34 / +0.39 after 1 / 2 / 4 epochs against two 20-epoch seeds (which agree at
    # +0.63); longer budgets were not better than 1 epoch at 95% (paired bootstrap), so the cheapest
    # stays (BENCHMARKS.md §4, bench/ranking_fidelity).
    epochs: float | None = 1.0
    time_budget: float | None = None  # seconds of training; with epochs, whichever ends first
    # bs 64 / peak lr 0.2: ranks as well as bs 32 / 0.1, 64 / 0.4 and 128 / 0.4 (tau +0.41 against
    # +0.37 / +0.26 / +0.45 on 15 genotypes, within noise) at the second-lowest cost per candidate
    # (BENCHMARKS.md §6, bench/defaults).
    batch_size: int = 64
    lr: float = 0.2  # peak learning rate of the one-cycle schedule
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.15
    bn_recalibration_batches: int = 20  # 0 disables recalibration
    channels_last: bool = True
    bf16: bool = True  # autocast on CUDA only
    # On CUDA, one captured step replayed (nas.train.cuda_graph): the demo's candidates x3.2 faster in
    # the trainer on an H100, same accuracy (BENCHMARKS.md §14, python -m bench.gpu graphs).
    cuda_graphs: bool = True
    # The zero-cost signals at initialisation (nas.train.zero_cost), recorded for every brief
    # candidate; final training (retrain, scale, export) turns them off.
    zero_cost: bool = True
    seed: int = 0
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        """Checked once, here, for the CLI and Python callers alike."""
        from ..errors import UserError

        if (self.epochs is not None and not self.epochs > 0) or (self.time_budget is not None and not self.time_budget > 0):
            raise UserError("--epochs and --time-budget must be positive")
        if self.epochs is None and self.time_budget is None:
            raise UserError("training needs a budget: --epochs or --time-budget")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, object] | None) -> "TrainConfig":
        """The settings a study recorded (unknown keys from other versions are ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (stored or {}).items() if k in known})  # type: ignore[arg-type]


@dataclass
class TrainResult:
    val_accuracy: float
    train_loss: float
    train_time: float  # seconds spent in the training loop
    total_time: float  # including model build, data transfer, recalibration and evaluation
    images_per_sec: float
    epochs: float
    device: str
    epoch_accuracies: list[float] = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # when asked for
    signals: Signals | None = None  # every signal of the run (nas.train.signals)


Trainer = Callable[..., TrainResult]
"""``trainer(genotype, data, cfg, device, report=None, keep_model=False) -> TrainResult``:
:func:`nas.train.trainer.train_candidate` or anything with its signature (tests pass fakes; the
retrain and multi-fidelity work pass theirs)."""
