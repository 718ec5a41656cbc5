"""What a search is asked to do: one dataclass, filled by the CLI or by Python callers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.latency_settings import LatencySettings
from ..train.data import DEFAULT_TEST_FRACTION
from ..train.trainer import TrainConfig
from .budgets import OBJECTIVES, TOLD_AS
from .store.defaults import DEFAULT_STORAGE_RETRY
from .store.liveness import DEFAULT_STALE_AFTER
from .run.steps import LoopSettings
from .run.driver import Workers
from ..train.rungs import Rungs
from .sampling.samplers import DEFAULT_OVERLAP_SAMPLING, DEFAULT_SAMPLER, overlap_for


@dataclass
class SearchConfig:
    space: str = "mobile"
    dataset: str = "mnist5k"
    study: str = "demo"
    trials: int = 40
    train: TrainConfig = field(default_factory=TrainConfig)
    flops_max: float | None = None
    params_max: float | None = None
    latency_max_ms: float | None = None  # a hard budget on measured latency (nas.model.latency)
    latency_on: str = "torch-cpu"  # the runtime measured: where the user deploys
    latency_batch: int = 1
    objectives: str = OBJECTIVES[0]
    flops_target: float | None = None  # MnasNet reward mode on FLOPs when set
    latency_target_ms: float | None = None  # MnasNet reward mode on measured latency when set
    reward_on: str = "flops"  # what the reward's cost is: "flops" (--flops-target) or "latency" (--latency-target)
    reward_exponent: float = -0.07
    sampler: str = DEFAULT_SAMPLER
    pruner: str = "none"
    seed: int = 0
    seed_archs: bool = False
    storage: str | None = None
    storage_retry: float = DEFAULT_STORAGE_RETRY  # seconds every storage call rides out an outage
    device: str = "auto"
    val_fraction: float = 0.2
    test_fraction: float = DEFAULT_TEST_FRACTION  # carved only where the data has no test set
    write_files: bool = True
    progress: bool = True
    command: str = ""
    workers: int = 1
    devices: list[int] | None = None  # GPU ids for the workers (default: all visible)
    workers_per_device: int | None = None  # at most this many workers per GPU (nas.study.run.placement)
    overlap_sampling: bool | None = DEFAULT_OVERLAP_SAMPLING  # ask ahead while training; None: on a GPU
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0
    fidelity: Rungs | None = None  # successive halving over these rungs (nas.study.halving); None: single
    checkpoint_dir: str | None = None  # successive halving's run checkpoints (default results/<study>/checkpoints)

    @property
    def reward_mode(self) -> bool:
        return self.flops_target is not None or self.latency_target_ms is not None

    @property
    def costs(self) -> list[str]:
        """What accuracy is traded against: ``flops`` and/or ``latency``."""
        return self.objectives.split(",")[1:]

    @property
    def objective_names(self) -> list[str]:
        return ["reward"] if self.reward_mode else ["accuracy"] + [TOLD_AS[c] for c in self.costs]

    @property
    def n_objectives(self) -> int:
        return len(self.objective_names)

    @property
    def measures_latency(self) -> bool:
        if self.reward_mode:
            return self.latency_max_ms is not None or self.reward_on == "latency"
        return self.latency_max_ms is not None or "latency" in self.costs

    @property
    def workers_placement(self) -> Workers:
        return Workers(self.device, self.workers, self.workers_per_device, self.devices)

    def latency_settings(self) -> LatencySettings:
        return LatencySettings(runtime=self.latency_on, batch=self.latency_batch)

    def loop_settings(self, device: str) -> LoopSettings:
        # Over-budget proposals are cheap but not endless: a budget that excludes most of the
        # space stops the search with a warning instead of asking forever.
        return LoopSettings(total=self.trials, stale_after=self.stale_after,
                            poll_interval=self.poll_interval, max_asks=20 * self.trials + 100,
                            overlap_sampling=overlap_for(self.overlap_sampling, device))
