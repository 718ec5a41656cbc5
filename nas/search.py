"""Multi-objective architecture search: Optuna asks, we sample a genotype, check its cost, train it
briefly, and tell. Written as an ask/tell loop so that every trial's fate is recorded by us:

* over budget (analytic estimate, before any model is built): recorded with its constraint
  violation via ``Trial.set_constraint`` and never trained;
* already evaluated genotype (same :meth:`Genotype.key`): its result is reused and marked;
* NaN loss, out of memory, any exception: the trial FAILs with its reason; the search goes on;
* Ctrl-C: the running trial FAILs as "interrupted", finished trials stay, a rerun resumes.

``--trials`` is the number of evaluated trials wanted in the study (trained, reused or failed
candidates; over-budget rejections and interrupted trials do not count), so rerunning the same
command after an interruption runs only the missing ones.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from .cost import FLOPS_CONVENTION, estimate_cost, space_min_cost
from .data import Dataset, load_dataset
from .errors import UserError, allowed
from .inspect_arch import human
from .results import format_front, non_dominated, pareto_frame, trials_frame
from .space import PARAM_ENCODING, SearchSpace, load_space
from .storage import open_storage, resolve_storage_url, study_dir
from .train import CandidateFailed, TrainConfig, train_candidate
from .workers import (DEFAULT_STALE_AFTER, Heartbeat, assign_devices, fail_stale_trials,
                      run_processes, slots_taken)

SAMPLERS = ("tpe", "nsga2", "random", "gp")
# GP: in the replay benchmark (bench/search_efficiency.py, BENCHMARKS.md) it reached random
# search's hypervolume at 100 trials in 36 trials, TPE in 84, NSGA-II in 91 (mean of 5 seeds).
# Its ask costs ~0.7 s at 100 trials (cubic in trials): for searches of many hundreds of cheap
# trials, --sampler tpe keeps sampling time negligible.
DEFAULT_SAMPLER = "gp"
PRUNERS = ("none", "median", "hyperband")
UNCOUNTED_REASONS = ("interrupted", "worker lost", "surplus")

optuna.logging.set_verbosity(optuna.logging.WARNING)


def parse_quantity(text: str | float | int | None, flag: str) -> float | None:
    """``20M``, ``1.5G``, ``300k`` or a plain number."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    s = text.strip()
    scale = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(s[-1:], 1.0)
    try:
        value = float(s[:-1] if scale != 1.0 else s) * scale
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected a number with an optional k/M/G suffix, e.g. 20M") from None
    if value <= 0 or not math.isfinite(value):
        raise UserError(f"{flag} {text!r}: must be a positive number")
    return value


@dataclass
class SearchConfig:
    space: str = "search_spaces/mobile.yaml"
    dataset: str = "mnist5k"
    study: str = "demo"
    trials: int = 40
    train: TrainConfig = field(default_factory=TrainConfig)
    flops_max: float | None = None
    params_max: float | None = None
    flops_target: float | None = None  # MnasNet reward mode when set
    reward_exponent: float = -0.07
    sampler: str = DEFAULT_SAMPLER
    pruner: str = "none"
    seed: int = 0
    seed_archs: bool = False
    storage: str | None = None
    device: str = "auto"
    val_fraction: float = 0.2
    write_files: bool = True
    progress: bool = True
    command: str = ""
    workers: int = 1
    devices: list[int] | None = None  # GPU ids for the workers (default: all visible)
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0

    @property
    def reward_mode(self) -> bool:
        return self.flops_target is not None


def make_sampler(name: str, seed: int, n_objectives: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=10)
    raise UserError(f"--sampler {name!r}: allowed: {allowed(SAMPLERS)}")


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    raise UserError(f"--pruner {name!r}: allowed: {allowed(PRUNERS)}")


def counts_toward_total(t: optuna.trial.FrozenTrial) -> bool:
    """Evaluated trials count; over-budget rejections and interrupted/lost trials do not."""
    if t.state in (TrialState.RUNNING, TrialState.WAITING):
        return False
    if t.user_attrs.get("over_budget"):
        return False
    reason = str(t.user_attrs.get("fail_reason", ""))
    return not (t.state == TrialState.FAIL and reason.startswith(UNCOUNTED_REASONS))


def evaluated_count(study: optuna.Study) -> int:
    return sum(counts_toward_total(t) for t in study.get_trials(deepcopy=False))


class Searcher:
    """Holds what every trial needs: the space, the data, the device, the budgets."""

    def __init__(self, cfg: SearchConfig, space: SearchSpace, data: Dataset, device: torch.device) -> None:
        self.cfg, self.space, self.data, self.device = cfg, space, data, device

    # ----- one trial ----------------------------------------------------------------------------
    def run_trial(self, study: optuna.Study, trial: optuna.Trial,
                  known: list[optuna.trial.FrozenTrial] | None = None) -> tuple[TrialState, list[float] | None]:
        """Evaluate one trial; ``known`` is a recent snapshot of the study's trials (for duplicates)."""
        cfg = self.cfg
        g = self.space.sample(trial, self.data.in_channels, self.data.num_classes)
        cost = estimate_cost(g)
        trial.set_user_attr("genotype", g.to_json(indent=None))
        trial.set_user_attr("arch", g.arch)
        trial.set_user_attr("key", g.key())
        trial.set_user_attr("params", cost.params)
        trial.set_user_attr("flops", cost.flops)
        over = False
        if cfg.flops_max is not None:
            violation = (cost.flops - cfg.flops_max) / cfg.flops_max
            trial.set_constraint("flops", violation)
            over |= violation > 0
        if cfg.params_max is not None:
            violation = (cost.params - cfg.params_max) / cfg.params_max
            trial.set_constraint("params", violation)
            over |= violation > 0
        if over:
            trial.set_user_attr("over_budget", True)
            trial.set_user_attr("trained", False)
            return TrialState.COMPLETE, self.values(0.0, cost.flops)

        previous = self.find_duplicate(study.get_trials(deepcopy=False) if known is None else known,
                                       g.key(), trial.number)
        if previous is not None:
            for k in ("accuracy", "train_loss", "train_time", "images_per_sec", "epochs", "device"):
                if k in previous.user_attrs:
                    trial.set_user_attr(k, previous.user_attrs[k])
            trial.set_user_attr("reused_from", previous.number)
            trial.set_user_attr("trained", False)
            return TrialState.COMPLETE, list(previous.values)

        report = None
        if cfg.reward_mode:
            def report(epoch: int, acc: float) -> bool:
                trial.report(self.reward(acc, cost.flops), epoch)
                return trial.should_prune()
        try:
            result = train_candidate(g, self.data, cfg.train, self.device, report)
        except CandidateFailed as exc:
            return self.fail(trial, str(exc))
        except torch.cuda.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            return self.fail(trial, f"CUDA out of memory: {str(exc).splitlines()[0]}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad candidate must not stop the search
            return self.fail(trial, f"{type(exc).__name__}: {exc}")
        trial.set_user_attr("trained", True)
        for k, v in (("accuracy", result.val_accuracy), ("train_loss", result.train_loss),
                     ("train_time", result.train_time), ("total_time", result.total_time),
                     ("images_per_sec", result.images_per_sec), ("epochs", result.epochs),
                     ("device", result.device)):
            trial.set_user_attr(k, v)
        if result.epoch_accuracies:
            trial.set_user_attr("epoch_accuracies", result.epoch_accuracies)
        if cfg.reward_mode and cfg.pruner != "none" and trial.should_prune():
            return TrialState.PRUNED, None
        return TrialState.COMPLETE, self.values(result.val_accuracy, cost.flops)

    def values(self, accuracy: float, flops: int) -> list[float]:
        """Objectives told to the sampler: accuracy and log10(FLOPs).

        The log leaves the Pareto front unchanged (it is monotone) but gives a model-based
        sampler an objective it can fit: FLOPs span two orders of magnitude across a space and
        multiply across choices. Measured: GP needs 32 instead of 36 trials to reach random
        search's 100-trial hypervolume (BENCHMARKS.md §3). Raw FLOPs stay in ``flops``.
        """
        if self.cfg.reward_mode:
            return [self.reward(accuracy, flops)]
        return [accuracy, math.log10(max(flops, 1))]

    def reward(self, accuracy: float, flops: float) -> float:
        """MnasNet: ACC x (FLOPs / T)^w, w < 0 penalises FLOPs above the target T."""
        return accuracy * (flops / float(self.cfg.flops_target)) ** self.cfg.reward_exponent

    @staticmethod
    def fail(trial: optuna.Trial, reason: str) -> tuple[TrialState, None]:
        trial.set_user_attr("fail_reason", reason[:500])
        trial.set_user_attr("trained", False)
        return TrialState.FAIL, None

    @staticmethod
    def find_duplicate(trials: list[optuna.trial.FrozenTrial], key: str,
                       number: int) -> optuna.trial.FrozenTrial | None:
        for t in trials:
            if (t.state == TrialState.COMPLETE and t.number != number and t.user_attrs.get("key") == key
                    and not t.user_attrs.get("over_budget")):
                return t
        return None


# ----- study set-up -------------------------------------------------------------------------------

def _metadata(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> dict[str, Any]:
    return {"command": cfg.command, "space_name": space.name, "space_source": space.source,
            "space_text": space.text, "dataset": cfg.dataset, "dataset_summary": data.describe(),
            "seed": cfg.seed, "sampler": cfg.sampler,
            "objectives": ["reward"] if cfg.reward_mode else ["accuracy", "log10_flops"],
            "param_encoding": PARAM_ENCODING,
            "train_config": cfg.train.to_dict(), "flops_max": cfg.flops_max,
            "params_max": cfg.params_max, "flops_target": cfg.flops_target,
            "reward_exponent": cfg.reward_exponent, "val_fraction": cfg.val_fraction,
            "in_channels": data.in_channels, "num_classes": data.num_classes,
            "flops_convention": FLOPS_CONVENTION, "torch": torch.__version__,
            "optuna": optuna.__version__, "python": platform.python_version()}


def open_study(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> optuna.Study:
    storage = open_storage(cfg.storage, cfg.study)
    directions = ["maximize"] if cfg.reward_mode else ["maximize", "minimize"]
    n_obj = len(directions)
    existing = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if cfg.study in existing:
        study = optuna.load_study(study_name=cfg.study, storage=storage,
                                  sampler=make_sampler(cfg.sampler, cfg.seed, n_obj),
                                  pruner=make_pruner(cfg.pruner))
        attrs = study.user_attrs
        if [d.name.lower() for d in study.directions] != directions:
            raise UserError(f"study {cfg.study!r} exists with objectives {attrs.get('objectives')}; "
                            f"use another --study name for a different objective")
        if attrs.get("param_encoding") != PARAM_ENCODING:
            raise UserError(f"study {cfg.study!r} was made by an earlier version of this toolkit "
                            f"(parameter encoding {attrs.get('param_encoding', 'categorical-v1')!r}, "
                            f"now {PARAM_ENCODING!r}); use another --study name")
        if attrs.get("space_text") not in (None, space.text):
            raise UserError(f"study {cfg.study!r} was made with a different search space "
                            f"({attrs.get('space_source')}); use another --study name")
        if attrs.get("dataset") not in (None, cfg.dataset):
            raise UserError(f"study {cfg.study!r} was made on dataset {attrs.get('dataset')!r}; "
                            f"use another --study name")
        return study
    study = optuna.create_study(study_name=cfg.study, storage=storage, directions=directions,
                                sampler=make_sampler(cfg.sampler, cfg.seed, n_obj),
                                pruner=make_pruner(cfg.pruner))
    for k, v in _metadata(cfg, space, data).items():
        study.set_user_attr(k, v)
    if cfg.seed_archs:
        for g in space.reference_genotypes(data.in_channels, data.num_classes):
            study.enqueue_trial(space.params_for(g), user_attrs={"reference": g.name},
                                skip_if_exists=True)
    return study


def check_budget(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> None:
    """Refuse, before any training, a budget that no genotype in the space can meet."""
    if cfg.flops_max is None and cfg.params_max is None:
        return
    min_params, min_flops = space_min_cost(space, data.in_channels, data.num_classes)
    if cfg.flops_max is not None and min_flops > cfg.flops_max:
        raise UserError(f"--flops-max {human(cfg.flops_max)} is impossible: the smallest architecture "
                        f"in {space.source} needs {human(min_flops)} FLOPs ({FLOPS_CONVENTION})")
    if cfg.params_max is not None and min_params > cfg.params_max:
        raise UserError(f"--params-max {human(cfg.params_max)} is impossible: the smallest "
                        f"architecture in {space.source} has {human(min_params)} parameters")


# ----- the loop -----------------------------------------------------------------------------------

class Progress:
    """Trials done, best accuracy and Pareto-front size: a tqdm bar on a terminal, otherwise one
    line per trial (logs and CI stay readable). Kept incrementally: no storage reads."""

    def __init__(self, total: int, study: optuna.Study, enabled: bool, prefix: str = "") -> None:
        self.bar = None
        self.enabled, self.total, self.prefix = enabled, total, prefix
        self.done = evaluated_count(study)
        self.points = [(t.user_attrs["accuracy"], t.user_attrs["flops"])
                       for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                       if "accuracy" in t.user_attrs and "reused_from" not in t.user_attrs]
        if enabled and sys.stderr.isatty() and not prefix:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=min(self.done, total), unit="trial", file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def update(self, number: int, a: dict[str, Any], state: TrialState) -> None:
        counted = not a.get("over_budget")
        self.done += counted
        if state == TrialState.COMPLETE and "accuracy" in a and "reused_from" not in a:
            self.points.append((a["accuracy"], a["flops"]))
        if not self.enabled:
            return
        best = max((p[0] for p in self.points), default=float("nan"))
        front = int(non_dominated(np.array([p[0] for p in self.points], float),
                                  np.array([p[1] for p in self.points], float)).sum()) if self.points else 0
        summary = f"best acc {best:.4f}, front {front}"
        if self.bar is not None:
            self.bar.set_postfix_str(summary)
            self.bar.update(1) if counted else self.bar.refresh()
            return
        what = (f"failed: {a.get('fail_reason')}" if state == TrialState.FAIL else
                "over budget, not trained" if a.get("over_budget") else
                f"reused trial {a['reused_from']}" if "reused_from" in a else
                f"acc {a.get('accuracy', float('nan')):.4f} in {a.get('train_time', 0):.1f}s")
        print(f"{self.prefix}trial {number:>4} [{self.done}/{self.total}] {human(a.get('flops', 0))} FLOPs, "
              f"{what}; {summary}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def prepare(cfg: SearchConfig) -> tuple[SearchSpace, Dataset, optuna.Study]:
    """Validate everything the user gave, then create or load the study (before any worker)."""
    if cfg.trials < 1:
        raise UserError(f"--trials must be >= 1, got {cfg.trials}")
    if cfg.workers < 1:
        raise UserError(f"--workers must be >= 1, got {cfg.workers}")
    space = load_space(cfg.space)
    data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed)
    check_budget(cfg, space, data)
    cfg.storage = resolve_storage_url(cfg.storage, cfg.study, cfg.workers)
    return space, data, open_study(cfg, space, data)


def worker_loop(cfg: SearchConfig, searcher: Searcher, study: optuna.Study, progress: "Progress",
                out: TextIO) -> None:
    """Ask, evaluate, tell until the study holds ``cfg.trials`` evaluated trials (study-wide).

    Safe with other workers on the same study: see :mod:`nas.workers` for liveness, stale
    trials and the exact total.
    """
    asks, max_asks = 0, 20 * cfg.trials + 100  # over-budget proposals are cheap but not endless
    trial: optuna.Trial | None = None
    try:
        while True:
            snapshot = study.get_trials(deepcopy=False)  # one read serves the checks below
            if fail_stale_trials(study, cfg.stale_after, snapshot):
                snapshot = study.get_trials(deepcopy=False)
            done, running = slots_taken(study, counts_toward_total, trials=snapshot)
            if done >= cfg.trials or asks >= max_asks:
                break
            if done + running >= cfg.trials:  # the last trials are running elsewhere
                time.sleep(cfg.poll_interval)
                continue
            trial = study.ask()
            asks += 1
            beat = Heartbeat(study, trial._trial_id)
            try:
                below = slots_taken(study, counts_toward_total, below_number=trial.number)
                if sum(below) >= cfg.trials:
                    trial.set_user_attr("fail_reason", "surplus: the study total was reached by other workers")
                    study.tell(trial, state=TrialState.FAIL)
                    trial = None
                    continue
                state, values = searcher.run_trial(study, trial, snapshot)
                study.tell(trial, values, state=state)
            finally:
                beat.stop()
            attrs = study._storage.get_trial(trial._trial_id).user_attrs
            progress.update(trial.number, attrs, state)
            trial = None
    except KeyboardInterrupt:
        progress.close()
        if trial is not None:  # the running trial: FAIL, so that a rerun replaces it
            try:
                trial.set_user_attr("fail_reason", "interrupted (Ctrl-C)")
                study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001 - already told, or storage gone: nothing to add
                pass
        raise
    progress.close()
    if asks >= max_asks and evaluated_count(study) < cfg.trials:
        print(f"warning: stopped after {asks} proposals, most over budget; the budget is tight "
              f"for this space", file=out)


def worker_devices(cfg: SearchConfig) -> list[str]:
    return assign_devices(cfg.device, cfg.workers, cfg.devices)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _worker_entry(cfg: SearchConfig, index: int, device: str, threads: int) -> None:
    """A worker process: loads the study the parent made and runs the shared loop."""
    import signal

    signal.signal(signal.SIGTERM, _raise_interrupt)
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(cfg.space)
    data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed)
    study = optuna.load_study(study_name=cfg.study, storage=open_storage(cfg.storage, cfg.study),
                              sampler=make_sampler(cfg.sampler, cfg.seed + 1000 * index, 1 if cfg.reward_mode else 2),
                              pruner=make_pruner(cfg.pruner))
    searcher = Searcher(cfg, space, data, torch.device(device))
    try:
        worker_loop(cfg, searcher, study, Progress(cfg.trials, study, cfg.progress, prefix=f"[worker {index}] "),
                    sys.stdout)
    except KeyboardInterrupt:
        sys.exit(130)


def run_search(cfg: SearchConfig, out: TextIO = sys.stdout) -> optuna.Study:
    """Run (or resume) a search until the study holds ``cfg.trials`` evaluated trials."""
    space, data, study = prepare(cfg)
    done = evaluated_count(study)
    devices = worker_devices(cfg)
    print(f"study {cfg.study!r}: {done} of {cfg.trials} trials done; {data.describe()}; "
          f"{cfg.workers} worker(s) on {', '.join(sorted(set(devices)))}; storage {cfg.storage}", file=out)
    if cfg.workers == 1:
        searcher = Searcher(cfg, space, data, torch.device(devices[0]))
        try:
            worker_loop(cfg, searcher, study, Progress(cfg.trials, study, cfg.progress), out)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {evaluated_count(study)} finished trials are kept in study "
                  f"{cfg.study!r}; rerun the same command to resume", file=out)
            raise
    else:
        run_workers(cfg, devices, study, out)
    finish(study, cfg, out)
    return study


def run_workers(cfg: SearchConfig, devices: list[str], study: optuna.Study, out: TextIO) -> None:
    """N processes share the study (see :func:`nas.workers.run_processes`)."""
    try:
        codes = run_processes(_worker_entry, devices, lambda i, d, threads: (cfg, i, d, threads))
    except KeyboardInterrupt:
        print(f"\ninterrupted: {evaluated_count(study)} finished trials are kept in study "
              f"{cfg.study!r}; rerun the same command to resume", file=out)
        raise
    bad = [c for c in codes if c not in (0, None)]
    if bad:
        print(f"warning: {len(bad)} worker(s) exited with codes {bad}; finished trials are kept", file=out)


def finish(study: optuna.Study, cfg: SearchConfig, out: TextIO) -> None:
    """Print the front and write trials.csv / pareto.csv under results/<study>/."""
    frame = trials_frame(study)
    front = pareto_frame(frame)
    if cfg.reward_mode:
        best = frame[frame["state"] == "COMPLETE"].sort_values("objective", ascending=False).head(5)
        print("best by MnasNet reward ACC x (FLOPs/T)^w:", file=out)
        print(format_front(best), file=out)
    else:
        print(format_front(front), file=out)
    if cfg.write_files:
        folder = study_dir(cfg.study)
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "trials.csv", index=False)
        front.to_csv(folder / "pareto.csv", index=False)
        print(f"wrote {folder / 'trials.csv'} and {folder / 'pareto.csv'}", file=out)
