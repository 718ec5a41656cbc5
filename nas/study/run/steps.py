"""What every ask/tell loop shares: its settings and types, and :class:`Loop`, the steps both of its
forms (:mod:`nas.study.run.serial`, :mod:`nas.study.run.overlapped`) are made of.

A loop owns what all work in a study shares, so it is written once:

* **the exact study-wide total**: it asks only while evaluated + running trials are below
  ``total``; after asking it checks its trial's rank, and a trial beyond the total (two workers
  asked at the same instant) is failed at once as "surplus", untrained and uncounted;
* **liveness** (:mod:`nas.study.store.liveness`): a heartbeat on each trial it holds, stale trials
  of dead workers failed and retried once, and never a wait on a trial of its own process;
* **failure isolation**: an exception from the work (NaN loss, out of memory, a bug in one
  candidate) fails that trial with its reason, and the loop goes on;
* **Ctrl-C / SIGTERM**: every trial it holds is failed as "interrupted" (not counted, so a rerun
  replaces it); every finished trial is already in the study;
* **storage outages**: every storage call retries for ``--storage-retry`` seconds
  (:mod:`nas.study.store.retrying`); past that, a finished trial goes to a local recovery file and
  the command exits with code 3 (:mod:`nas.study.store.recovery`); the next run puts it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from ..sampling.samplers import warm_up
from ..store.liveness import fail_orphaned_trials, fail_stale_trials
from ..store.records import INTERRUPTED, TrialRecord, counts_toward_total
from ..store.recovery import StorageLost, claimed_elsewhere, reinsert, save_result
from ..store.retrying import StorageUnavailable
from ..store.storage import StudyHandle
from .prefetch import Asked, Held, ask
from .settings import LoopSettings

SURPLUS = "surplus: the study total was reached by other workers"


@dataclass
class Outcome:
    """What one evaluation tells the study."""

    state: TrialState
    values: list[float] | None
    record: TrialRecord


class TrialContext:
    """What the loop gives an evaluation besides the trial: a recent snapshot of the study's
    trials, and :meth:`save` to store the record early (a running trial then shows its candidate,
    and a trial that fails keeps what it had)."""

    def __init__(self, trial: optuna.Trial, snapshot: list[optuna.trial.FrozenTrial],
                 flush: Callable[[], None] = lambda: None, on_save: Callable[[], None] = lambda: None) -> None:
        self.trial = trial
        self.snapshot = snapshot
        self._flush = flush
        self._on_save = on_save  # the overlapped loop's cue that training starts: ask ahead
        self._written: dict[str, Any] = {}
        self._saved = False

    def save(self, record: TrialRecord) -> None:
        """Store the fields of ``record`` not stored yet, together with the trial's parameters
        and anything else it holds: one transaction (nas.study.store.write_buffer)."""
        for key, value in record.to_attrs().items():
            if key not in self._written or self._written[key] != value:
                self.trial.set_user_attr(key, value)
                self._written[key] = value
        self._flush()
        if not self._saved:  # the first save only: later ones (rungs, the tell) start nothing
            self._saved = True
            self._on_save()

    @property
    def record(self) -> TrialRecord:
        """Everything stored so far for this trial by this loop."""
        return TrialRecord.from_attrs(self._written)


class Evaluate(Protocol):
    def __call__(self, trial: optuna.Trial, context: TrialContext) -> Outcome: ...


OnTold = Callable[[int, TrialRecord, TrialState], None]


@dataclass
class LoopSummary:
    asks: int
    evaluated: int
    ran_out_of_asks: bool


def slots_taken(trials: list[optuna.trial.FrozenTrial], below_number: int | None = None) -> tuple[int, int]:
    """(evaluated trials, running trials), optionally only those numbered below ``below_number``."""
    done = running = 0
    for t in trials:
        if below_number is not None and t.number >= below_number:
            continue
        if t.state == TrialState.RUNNING:
            running += 1
        elif counts_toward_total(t):
            done += 1
    return done, running


def evaluated_count(study: optuna.Study) -> int:
    return slots_taken(study.get_trials(deepcopy=False))[0]


def failure_reason(exc: BaseException) -> str:
    """One line that says why a candidate failed."""
    import torch

    from ...train.trainer import CandidateFailed

    if isinstance(exc, CandidateFailed):
        return str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        torch.cuda.empty_cache()
        return f"CUDA out of memory: {str(exc).splitlines()[0]}"
    return f"{type(exc).__name__}: {exc}"


def flusher(handle: StudyHandle, trial_id: int) -> Callable[[], None]:
    """The storage's flush of this trial's held writes (nas.study.store.write_buffer), where it has one."""
    flush = getattr(handle.storage, "flush", None)
    return (lambda: flush(trial_id)) if flush is not None else (lambda: None)


class Loop:
    """The steps of an ask/tell loop, run by :meth:`run` until the study holds the total; its
    forms say in :meth:`body` how they put the steps together. Every trial asked is in
    :attr:`held` until its tell is given: whatever ends the loop, none is left RUNNING with a
    heartbeat beating (issue 36)."""

    def __init__(self, handle: StudyHandle, evaluate: Evaluate, settings: LoopSettings,
                 on_told: OnTold | None = None) -> None:
        self.handle, self.study, self.evaluate, self.settings = handle, handle.study, evaluate, settings
        self.on_told = on_told
        self.asks = 0
        self.held = Held()

    def run(self) -> LoopSummary:
        try:
            self.body()
            self.held.fail_all(self.study, SURPLUS)  # asked ahead, and the total was reached meanwhile
        except StorageUnavailable as exc:
            raise StorageLost(f"{exc}; nothing finished was lost; rerun the same command when the storage "
                              f"is back") from None
        except KeyboardInterrupt:
            self.interrupted()
            raise
        finally:
            for asked in self.held.all():  # an outage or an error ended the loop: no heartbeat outlives it
                self.held.release(asked)
            self.close()
        done = evaluated_count(self.study)
        return LoopSummary(self.asks, done, done < self.settings.total)

    def body(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """What the form started beside the loop ends here."""

    def interrupted(self) -> None:
        """Ctrl-C: every trial held is failed, so that a rerun replaces it."""
        self.held.fail_all(self.study, INTERRUPTED)

    # -- the steps
    def counts(self) -> tuple[list[optuna.trial.FrozenTrial], int, int]:
        """(a fresh snapshot, evaluated, running), after putting back results a storage outage
        kept and failing trials whose workers are gone."""
        reinsert(self.handle)  # results a storage outage left in the recovery folder, before judging
        snapshot = self.study.get_trials(deepcopy=False)  # one read serves the checks of an iteration
        # its own trials are alive whatever their heartbeat's age (a --stale-after below the beat's interval)
        spare = claimed_elsewhere(self.handle.name) | {asked.trial.number for asked in self.held.all()}
        if fail_stale_trials(self.handle, self.settings.stale_after, snapshot, spare):
            snapshot = self.study.get_trials(deepcopy=False)
        return (snapshot, *slots_taken(snapshot))

    def finished(self, done: int) -> bool:
        asked_out = self.settings.max_asks is not None and self.asks >= self.settings.max_asks
        return done >= self.settings.total or asked_out

    def wait_for_others(self, snapshot: list[optuna.trial.FrozenTrial]) -> None:
        """The last trials run elsewhere. The loop holds none here: one its own process beats is
        run by no loop, and is failed and retried instead of waited for."""
        if not fail_orphaned_trials(self.handle, snapshot):
            time.sleep(self.settings.poll_interval)

    def ask(self) -> Asked:
        self.asks += 1
        return ask(self.handle, self.held)

    def outcome(self, asked: Asked, context: TrialContext, before: Callable[[], None] = lambda: None) -> Outcome:
        """Evaluate ``asked`` (``before`` just before), or fail it as surplus if the trials below
        it already fill the total; an exception from the work fails the trial with its reason."""
        below = slots_taken(self.study.get_trials(deepcopy=False), asked.trial.number)
        if sum(below) >= self.settings.total:
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=SURPLUS))
        before()
        try:
            return self.evaluate(asked.trial, context)
        except (KeyboardInterrupt, SystemExit, StorageUnavailable):
            raise
        except optuna.exceptions.StorageInternalError as exc:  # the storage's, not the candidate's: a rerun replaces it
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=f"storage error: {exc}"[:500]))
        except Exception as exc:  # noqa: BLE001 - one bad candidate must not stop the work
            return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=failure_reason(exc)[:500]))

    def tell(self, trial: optuna.Trial, context: TrialContext, outcome: Outcome) -> None:
        """Store the outcome; if the storage stays away past the retry window, keep it in a local
        recovery file and exit with code 3 (the next run puts it back)."""
        try:
            context.save(outcome.record)
            self.handle.study.tell(trial, outcome.values, state=outcome.state)
        except StorageUnavailable as exc:
            path = save_result(self.handle.name, trial, outcome.state, outcome.values, outcome.record)
            raise StorageLost(f"{exc}; trial {trial.number}'s result is kept in {path} and goes back into "
                              f"the study when the same command runs again") from None

    def report(self, number: int, context: TrialContext, state: TrialState) -> None:
        if self.on_told is not None:
            self.on_told(number, context.record, state)


def start_gp_early(settings: LoopSettings, sampler: optuna.samplers.BaseSampler) -> None:
    """Pay GP's one-time start-up in a thread beside the first trials where the loop works
    beside training anyway (overlapped sampling: the default on a GPU, whose trainer leaves the
    cores idle; there it took the loop x0.98 per trial on a 0.25 s stand-in). On the CPU it only
    moved ~1.7 points of the demo loop's time from outside the trainer into it, and the whole cost
    rose a little (x1.10 against x1.07, BENCHMARKS.md §2), so it is off there."""
    if settings.overlap_sampling:
        warm_up(sampler)
