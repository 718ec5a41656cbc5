"""What a search is asked to do: one dataclass, filled by the CLI or by Python callers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError, allowed
from ..model.latency_settings import LatencySettings
from ..train.config import DEFAULT_TEST_FRACTION, TrainConfig
from ..train.rungs import Rungs
from ..train.signals import ACCURACY, DEFAULT_SIGNAL, SIGNALS, objective_name
from .budgets import OBJECTIVES, REWARD_ON, TOLD_AS
from .run.group_size import DEFAULT_GROUP, parse_group
from .run.settings import LoopSettings, Workers
from .sampling.samplers import DEFAULT_OVERLAP_SAMPLING, DEFAULT_SAMPLER, PRUNERS, SAMPLERS, overlap_for
from .store.defaults import DEFAULT_REWARD_EXPONENT, DEFAULT_STALE_AFTER, DEFAULT_STORAGE_RETRY


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
    reward_exponent: float = DEFAULT_REWARD_EXPONENT
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
    group: int | str = DEFAULT_GROUP  # candidates in training at once per worker, or "auto" (nas.study.run.group_size)
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0
    fidelity: Rungs | None = None  # successive halving over these rungs (nas.study.halving); None: single
    # What candidates are ranked by (nas.train.signals; `nas calibrate` measures which ranks best):
    # a signal after the brief run of train.epochs, or one at initialisation (nothing trained).
    # None: DEFAULT_SIGNAL (NASWOT at initialisation, BENCHMARKS.md §4b), or validation accuracy
    # for successive halving and the reward mode, which rank trained candidates. To train every
    # candidate for train.epochs and rank by what it reached, name a signal of training
    # (signal="val_accuracy"; the CLI does so when --epochs or --time-budget is given).
    signal: str | None = None
    checkpoint_dir: str | None = None  # successive halving's run checkpoints (default results/<study>/checkpoints)

    def __post_init__(self) -> None:
        """Every setting that can be judged alone is checked here, once, with the one-line
        message the CLI shows (its flags' names): for the CLI and Python callers alike. What needs
        the data, the space or the storage is checked by nas.study.opening.prepare."""
        if self.trials < 1:
            raise UserError(f"--trials must be >= 1, got {self.trials}")
        if self.workers < 1:
            raise UserError(f"--workers must be >= 1, got {self.workers}")
        self.group = parse_group(self.group)
        if self.sampler not in SAMPLERS:
            raise UserError(f"--sampler {self.sampler!r}: allowed: {allowed(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise UserError(f"--pruner {self.pruner!r}: allowed: {allowed(PRUNERS)}")
        if self.objectives not in OBJECTIVES:
            raise UserError(f"--objectives {self.objectives!r}: allowed: {', '.join(OBJECTIVES)}")
        if self.pruner != "none" and not self.reward_mode:
            raise UserError("--pruner needs the single-objective reward mode (--flops-target T or "
                            "--reward-on latency --latency-target T)")
        self._check_reward()
        if self.objectives != OBJECTIVES[0] and self.reward_mode:
            raise UserError(f"--objectives {self.objectives}: the reward mode searches one number, ACC x (cost/T)^w; "
                            f"for latency use --reward-on latency --latency-target T, not --objectives")
        if self.fidelity is not None:
            self._check_fidelity()
        if self.signal is None:
            self.signal = ACCURACY if (self.reward_mode or self.fidelity is not None) else DEFAULT_SIGNAL
        if self.signal not in SIGNALS:
            raise UserError(f"--signal {self.signal!r}: allowed: {allowed(tuple(SIGNALS))}")
        if self.signal != ACCURACY and self.reward_mode:
            raise UserError(f"--signal {self.signal}: the reward mode weighs validation accuracy against its "
                            f"target; use --signal val_accuracy with it")
        if self.group != 1 and self.measures_latency:
            raise UserError(f"--group {self.group}: latency is measured with the device to itself; with a latency "
                            f"budget, target or objective, train one candidate at a time (--group 1)")
        if self.fidelity is not None and SIGNALS[self.signal].at_init:
            raise UserError(f"--signal {self.signal} is measured at initialisation, the same at every rung: "
                            f"--fidelity sh ranks its trained rungs on a signal of training "
                            f"({', '.join(s for s in SIGNALS if not SIGNALS[s].at_init)}); to rank by "
                            f"{self.signal} before training, give --screen {self.signal}")

    def _check_reward(self) -> None:
        """The reward mode weighs one cost against its own target: ``--reward-on flops`` with
        ``--flops-target``, ``--reward-on latency`` with ``--latency-target``."""
        if self.reward_on not in REWARD_ON:
            raise UserError(f"--reward-on {self.reward_on!r}: allowed: {', '.join(REWARD_ON)}")
        wanted = REWARD_ON[self.reward_on]
        target = {"flops": self.flops_target, "latency": self.latency_target_ms}
        for cost, flag in REWARD_ON.items():
            if cost != self.reward_on and target[cost] is not None:
                raise UserError(f"{flag} sets the target of --reward-on {cost}, but the reward is on "
                                f"{self.reward_on}; give {wanted} (--reward-on {self.reward_on}) or change --reward-on")
        if self.reward_on != "flops" and target[self.reward_on] is None:
            raise UserError(f"--reward-on {self.reward_on} needs its target: {wanted}, e.g. {wanted} 2ms")

    def _check_fidelity(self) -> None:
        if self.reward_mode:
            raise UserError("--fidelity sh ranks candidates on (accuracy, cost); it does not combine with "
                            "the single-objective reward mode (--flops-target, --latency-target)")
        if self.train.time_budget is not None:
            raise UserError("--fidelity sh trains to rungs of epochs (--min-epochs, --max-epochs); "
                            "drop --time-budget")
        if len(self.costs) > 1:
            raise UserError(f"--fidelity sh ranks each rung on accuracy and one cost; allowed with it: --objectives "
                            f"{' or '.join(o for o in OBJECTIVES if len(o.split(',')) == 2)}")

    @property
    def reward_mode(self) -> bool:
        return self.flops_target is not None or self.latency_target_ms is not None

    @property
    def costs(self) -> list[str]:
        """What accuracy is traded against: ``flops`` and/or ``latency``."""
        return self.objectives.split(",")[1:]

    @property
    def objective_names(self) -> list[str]:
        return ["reward"] if self.reward_mode else [objective_name(self.signal)] + [TOLD_AS[c] for c in self.costs]

    @property
    def n_objectives(self) -> int:
        return len(self.objective_names)

    def make_sampler(self, seed: int):  # noqa: ANN201 - an Optuna sampler
        """``--sampler`` seeded with ``seed``; under ``--fidelity sh`` fit on one rung's results
        (nas.study.sampling.rung_view)."""
        from .sampling.samplers import make_sampler

        rungs = self.fidelity.keys if self.fidelity is not None else None
        return make_sampler(self.sampler, seed, self.n_objectives, rungs=rungs)

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
                            overlap_sampling=overlap_for(self.overlap_sampling, device),
                            group=self.group if isinstance(self.group, int) else 1, device=device)
