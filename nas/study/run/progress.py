"""What a search prints while it runs: trials done, best score (accuracy, or the --signal searched),
size of the Pareto front.

A tqdm bar on a terminal, otherwise one line per trial (logs and CI stay readable). Kept
incrementally from what the loop reports: no storage reads per trial.
"""

from __future__ import annotations

import sys

import numpy as np
import optuna
from optuna.trial import TrialState

from ...units import duration, human
from .steps import evaluated_count
from ...pareto import non_dominated
from ..store.records import TrialRecord


class Progress:
    def __init__(self, total: int, study: optuna.Study, enabled: bool, prefix: str = "") -> None:
        self.bar = None
        self.enabled, self.total, self.prefix = enabled, total, prefix
        self.done = evaluated_count(study)
        self.points: list[tuple[float, float]] = []
        self.name = "acc"  # what the best figure is: accuracy, or the score of --signal
        self.speeds: list[float] = []  # images a second of each trained trial (the slow-trial warning)
        self.warned = False
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            self._add(TrialRecord.from_trial(t))
        if enabled and sys.stderr.isatty() and not prefix:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=min(self.done, total), unit="trial", file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def _add(self, r: TrialRecord) -> None:
        """A trial's point on the running front; under successive halving top-rung trials only,
        as the reported front (a screen's zero-cost score or a lower rung's accuracy is on
        another scale)."""
        score = _score(r)
        if r.rung is not None and not r.top_rung:
            return
        if score is not None and r.reused_from is None and r.flops is not None:
            self.points.append((score, r.flops))
            self.name = "acc" if r.score is None or r.score == r.accuracy else "score"  # --signal other than accuracy

    def update(self, number: int, r: TrialRecord, state: TrialState) -> None:
        if r.uncounted_failure:  # surplus or interrupted: nothing happened to the study total
            return
        counted = not r.over_budget
        self.done += counted
        if state == TrialState.COMPLETE:
            self._add(r)
            self._check_speed(number, r)
        if not self.enabled:
            return
        best = max((p[0] for p in self.points), default=float("nan"))
        front = int(non_dominated(np.array([p[0] for p in self.points], float),
                                  np.array([p[1] for p in self.points], float)).sum()) if self.points else 0
        summary = f"best {self.name} {best:.4g}, front {front}"
        if self.bar is not None:
            self.bar.set_postfix_str(summary)
            self.bar.update(1) if counted else self.bar.refresh()
            return
        name = "acc" if r.score is None or r.score == r.accuracy else "score"  # this trial's own
        what = (f"failed: {r.fail_reason}" if state == TrialState.FAIL else
                "over budget, not trained" if r.over_budget else
                f"reused trial {r.reused_from}" if r.reused_from is not None else
                f"{name} {_score(r) if _score(r) is not None else float('nan'):.4g} in "
                f"{r.train_time or (r.signals.zero_cost_seconds if r.signals else None) or 0:.2f}s"
                + ("" if r.rung is None else " (screened out at initialisation)" if not r.trained else
                   f" after {r.epochs:g} epochs ({'top rung' if r.top_rung else 'stopped'})"))
        print(f"{self.prefix}trial {number:>4} [{self.done}/{self.total}] {human(r.flops or 0)} FLOPs, "
              f"{what}; {summary}", file=sys.stderr, flush=True)

    def _check_speed(self, number: int, r: TrialRecord) -> None:
        """Warn once when a trial trains at under a quarter of this study's median pace so far: on
        the CPU, another process on the cores (nas.train.cpu_threads). The pace is images a second
        times sqrt(FLOPs), which networks of different size share: on the idle machine the 35
        calibration architectures of cluttered and pairs (0.3-5.3M FLOPs) kept it within 0.35x
        and 0.58x of its median, where images a second alone fell to 0.40x and 0.58x."""
        if not r.images_per_sec or r.reused_from is not None or not r.flops:
            return
        pace = r.images_per_sec * float(r.flops) ** 0.5
        if len(self.speeds) >= 5 and not self.warned:
            median = float(np.median(self.speeds))
            if pace < median / 4:
                self.warned = True
                print(f"{self.prefix}warning: trial {number} trained at {r.images_per_sec:.0f} images/s, under a "
                      f"quarter of this study's pace so far for its size: another process is probably using "
                      f"the cores; give it fewer threads (OMP_NUM_THREADS=1) or fewer --workers", file=sys.stderr,
                      flush=True)
        self.speeds.append(pace)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _score(r: TrialRecord) -> float | None:
    """What the search ranks by (``--signal``), else the accuracy (studies from before signals)."""
    return r.score if r.score is not None else r.accuracy


class Countdown:
    """Runs of a retrain or calibration counted as they finish, with the time left at this
    process's pace so far: "[3/12, ~2m10s left]"."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done, self.runs, self.seconds = total, done, 0, 0.0

    def tick(self, seconds: float) -> str:
        self.done, self.runs, self.seconds = self.done + 1, self.runs + 1, self.seconds + seconds
        left = max(0, self.total - self.done)
        if not left:
            return f"[{self.done}/{self.total}]"
        return f"[{self.done}/{self.total}, ~{duration(self.seconds / self.runs * left)} left]"
