"""What a trial and a study record, as typed dataclasses: the one place that names their keys.

A trial's record is stored as Optuna user attributes, one key per field (readable in any Optuna
tool), written by :meth:`TrialRecord.to_attrs` and read by :meth:`TrialRecord.from_trial`; every
reader (frames, progress, scaling, export, benchmarks) goes through these. Keys are the field
names, unchanged since the first studies, so older studies read as they are. Unknown keys are
ignored and missing ones take the defaults.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from ...scaling.tolerance import DEFAULT_TOLERANCE
from ...train.config import TrainConfig
from ...train.data_config import DataConfig
from ...train.rungs import Rungs
from ...train.signals import ACCURACY, Signals
from .defaults import DEFAULT_REWARD_EXPONENT

if TYPE_CHECKING:
    import pandas as pd

# Failures that say nothing about the candidate: it is not counted toward the study total and is
# trained again (interrupted, lost with its worker, orphaned by its loop, a storage error during
# its evaluation) or was never to be trained (surplus).
UNCOUNTED_REASONS = ("interrupted", "worker lost", "surplus", "orphaned", "storage error")
INTERRUPTED = "interrupted (Ctrl-C)"
RECORD_WRITTEN = "record_written"  # StudyRecord.write's last attribute
HEARTBEAT_KEY = "nas:heartbeat"  # a running trial's liveness (nas.study.store.liveness), a system attribute


@dataclass
class TrialRecord:
    """One trial: the candidate, its cost, and what became of it."""

    # the candidate (written before training, so a running trial shows what it is)
    genotype: str | None = None  # Genotype JSON
    arch: str | None = None
    key: str | None = None  # Genotype.key(): duplicates share it
    params: int | None = None
    flops: int | None = None  # fvcore convention (nas.model.cost.FLOPS_CONVENTION)
    latency_ms: float | None = None  # measured, StudyRecord.latency's convention (search --latency-max)
    reference: str | None = None  # name of the reference architecture it was enqueued as
    retry_of: int | None = None  # the lost trial this one retries
    # its fate
    over_budget: bool = False
    trained: bool = False
    reused_from: int | None = None  # the trial whose result a duplicate reuses
    recovered_from: int | None = None  # the trial whose result a storage outage kept (nas.study.store.recovery)
    fail_reason: str | None = None
    # brief training
    accuracy: float | None = None  # validation accuracy
    train_loss: float | None = None
    train_time: float | None = None
    total_time: float | None = None
    images_per_sec: float | None = None
    epochs: float | None = None
    device: str | None = None
    epoch_accuracies: list[float] | None = None
    signals: Signals | None = None  # every cheap signal of the brief run (nas.train.signals)
    score: float | None = None  # the signal the search optimises, higher is better (StudyRecord.signal)
    # successive halving (search --fidelity sh; nas.study.halving): accuracy per rung reached
    # (keys: the rung's epochs, "1", "3", "9"), [rank, results ranked among] per promotion decision
    rung_accuracies: dict[str, float] | None = None
    rung_scores: dict[str, float] | None = None  # the score each rung ranked on (StudyRecord.signal)
    rung_ranks: dict[str, list[int]] | None = None
    rung: int | None = None  # index of the highest rung reached
    top_rung: bool | None = None  # trained to the last rung: the front is made of these
    trained_epochs: float | None = None  # epochs this trial trained, cool-downs included (its cost)
    proposed_from_rung: str | None = None  # the rung whose results proposed it (nas.study.sampling.rung_view)
    resumed_from_epochs: float | None = None  # where a retry found its lost predecessor's checkpoint
    # a compound-scaling grid point (nas.scaling.grid): nominal alpha, beta, gamma with
    # alpha*beta^2*gamma^2 = nominal_factor; what was built to land on it (nas.scaling.landing)
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    nominal_factor: float | None = None
    flops_ratio: float | None = None  # measured, fvcore convention, after rounding
    resolution: int | None = None
    depth_mult: float | None = None
    width_mult: float | None = None
    # a final training (retrain): which candidate, which seed, how long; scored on the test split
    label: str | None = None  # what the user chose: "trial 12", "phi2.json", ...
    source_trial: int | None = None  # the search trial it came from
    seed: int | None = None
    budget_epochs: float | None = None
    test_accuracy: float | None = None
    weights: str | None = None  # state_dict file of the trained model

    RESULT_FIELDS = ("accuracy", "train_loss", "train_time", "total_time", "images_per_sec",
                     "epochs", "device", "epoch_accuracies", "signals", "score", "rung_accuracies", "rung_scores", "rung",
                     "top_rung")
    # What a trial was asked to do when that is not in its parameters (an enqueued final
    # training): a retry of a lost trial carries these over.
    JOB_FIELDS = ("genotype", "arch", "key", "params", "flops", "reference", "label", "source_trial",
                  "seed", "budget_epochs")

    def job(self) -> "TrialRecord":
        return TrialRecord(**{name: getattr(self, name) for name in self.JOB_FIELDS})

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes to store: every field that differs from its default (the signals as
        a plain dict, readable in any Optuna tool)."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self)
                 if getattr(self, f.name) != (f.default if f.default is not MISSING else None)}
        if self.signals is not None:
            attrs["signals"] = self.signals.to_dict()
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> "TrialRecord":
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in attrs.items() if k in known})
        if isinstance(record.signals, dict):
            record.signals = Signals.from_dict(record.signals)
        return record

    @classmethod
    def from_trial(cls, trial: optuna.trial.FrozenTrial) -> "TrialRecord":
        return cls.from_attrs(trial.user_attrs)

    def result_of(self, other: "TrialRecord") -> None:
        """Copy another trial's training result (a duplicate genotype reuses it)."""
        for name in self.RESULT_FIELDS:
            setattr(self, name, getattr(other, name))

    @property
    def uncounted_failure(self) -> bool:
        return _uncounted(self.fail_reason)


def _uncounted(fail_reason: object) -> bool:
    return bool(fail_reason) and str(fail_reason).startswith(UNCOUNTED_REASONS)


def records_frame(study: optuna.Study, columns: tuple[str, ...]) -> "pd.DataFrame":
    """One row per trial: number, state and the named record fields."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        r = TrialRecord.from_trial(t)
        rows.append({"number": t.number, "state": t.state.name, **{k: getattr(r, k) for k in columns}})
    return pd.DataFrame(rows, columns=["number", "state", *columns])


def counts_toward_total(t: optuna.trial.FrozenTrial) -> bool:
    """Evaluated trials count; running ones, over-budget rejections and failures that say nothing
    about the candidate (interrupted, worker lost, surplus, orphaned, storage error) do not."""
    if t.state in (TrialState.RUNNING, TrialState.WAITING):
        return False
    # The loop calls this for every trial several times an iteration: read the two fields it
    # needs (TrialRecord's names) rather than building a whole record per trial.
    attrs = t.user_attrs
    if attrs.get("over_budget"):
        return False
    return not (t.state == TrialState.FAIL and _uncounted(attrs.get("fail_reason")))


@dataclass
class StudyRecord:
    """What a search study records about itself, so that every later command (resume, scale,
    export, retrain) uses the same space, data and training settings."""

    command: str = ""
    space_name: str | None = None
    space_source: str | None = None
    space_text: str | None = None
    dataset: str = "mnist5k"
    dataset_summary: str | None = None
    seed: int = 0
    sampler: str | None = None
    objectives: list[str] = field(default_factory=lambda: ["accuracy", "log10_flops"])
    param_encoding: str = "categorical-v1"  # studies from before the encoding was recorded
    train_config: TrainConfig = field(default_factory=TrainConfig)  # stored as a dict
    flops_max: float | None = None
    params_max: float | None = None
    latency_max_ms: float | None = None
    latency: str | None = None  # how latency was measured (LatencySettings.describe), where it was
    latency_on: str | None = None  # the runtime measured (search --latency-on), where latency was
    latency_batch: int | None = None
    flops_target: float | None = None
    latency_target_ms: float | None = None
    reward_on: str | None = None  # "flops" or "latency" in the reward mode (None: not, or before it existed)
    reward_exponent: float = DEFAULT_REWARD_EXPONENT
    val_fraction: float = 0.2
    test_fraction: float | None = None  # None: made before held-out test splits existed
    test_split: str | None = None  # how the test split was made, with its fingerprint
    in_channels: int | None = None
    num_classes: int | None = None
    flops_convention: str | None = None
    torch: str | None = None
    optuna: str | None = None
    python: str | None = None
    scaling: ScalingRecord | None = None  # the chosen compound scaling, once `scale` ran
    fidelity: Rungs | None = None  # successive halving's rungs (stored as Rungs.to_dict); None: single
    signal: str = ACCURACY  # what the search optimised (nas.train.signals); older studies: accuracy
    # what a network trained on the search's training split expects of its input, at the space's
    # first resolution (mean, std, raw size, class names): export writes it without the data
    data_config: DataConfig | None = None

    def to_attrs(self) -> dict[str, Any]:
        """The study's user attributes: plain JSON (nested records as dicts, as ever)."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self)}
        attrs["train_config"] = self.train_config.to_dict()
        attrs["fidelity"] = self.fidelity.to_dict() if self.fidelity is not None else None
        attrs["scaling"] = self.scaling.to_attrs() if self.scaling is not None else None
        attrs["data_config"] = self.data_config.to_dict() if self.data_config is not None else None
        return attrs

    def reward_target(self) -> str:
        """The reward mode's target T, with its unit: "2 ms" or "1e+06 FLOPs"."""
        if (self.reward_on or "flops") == "latency":
            return f"{self.latency_target_ms:g} ms"
        return f"{self.flops_target:.4g} FLOPs"

    @classmethod
    def from_study(cls, study: optuna.Study) -> "StudyRecord":
        """Read once, typed: older studies' dicts parse as they are (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        attrs = {k: v for k, v in study.user_attrs.items() if k in known}
        attrs["train_config"] = TrainConfig.from_dict(attrs.get("train_config"))
        attrs["fidelity"] = Rungs.from_dict(attrs["fidelity"]) if attrs.get("fidelity") else None
        attrs["scaling"] = ScalingRecord.from_attrs(attrs["scaling"]) if attrs.get("scaling") else None
        attrs["data_config"] = DataConfig.from_dict(attrs["data_config"]) if attrs.get("data_config") else None
        return cls(**attrs)

    def write(self, study: optuna.Study) -> None:
        for k, v in self.to_attrs().items():
            study.set_user_attr(k, v)
        study.set_user_attr(RECORD_WRITTEN, True)  # last: a process joining a new study waits for it


@dataclass
class GridStudyRecord:
    """What a compound-scaling grid study (``<search study>-scale``) records about itself."""

    settings: dict[str, Any] | None = None  # base key, FLOPs factor, grid step, tolerance
    base_genotype: str | None = None

    @classmethod
    def from_study(cls, study: optuna.Study) -> "GridStudyRecord":
        a = study.user_attrs
        return cls(settings=a.get("settings"), base_genotype=a.get("base_genotype"))

    def write(self, study: optuna.Study) -> None:
        for k, v in asdict(self).items():
            study.set_user_attr(k, v)


@dataclass(frozen=True)
class ScalingRecord:
    """The compound scaling ``scale`` chose, stored on the search study (``StudyRecord.scaling``)
    for ``export --scaled``: the best grid point's nominal multipliers, the base it scales, and
    the rule its family lands by."""

    alpha: float
    beta: float
    gamma: float
    base: str  # what the user chose: "trial 12", "phi2.json", ...
    base_genotype: str  # Genotype JSON
    flops_factor: float
    tolerance: float = DEFAULT_TOLERANCE
    # 2: members landed on measured FLOPs (nas.scaling.landing); 1 (older studies): nominal
    grid_version: int = 1

    def to_attrs(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_attrs(cls, stored: dict[str, Any]) -> "ScalingRecord":
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})


def record_scaling(study: optuna.Study, scaling: ScalingRecord) -> None:
    """Store the chosen compound scaling on the search study (``StudyRecord.scaling``)."""
    study.set_user_attr("scaling", scaling.to_attrs())
