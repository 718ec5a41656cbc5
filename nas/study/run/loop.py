"""The one ask/tell loop: every piece of work that trains candidates in a study runs in it.

The loop owns what all such work shares, so it is written once:

* **the exact study-wide total**: it asks only while evaluated + running trials are below
  ``total``; after asking it checks its trial's rank, and a trial beyond the total (two workers
  asked at the same instant) is failed at once as "surplus", untrained and uncounted;
* **liveness** (:mod:`nas.study.store.liveness`): a heartbeat on the running trial, stale trials of dead
  workers failed and retried once;
* **failure isolation**: an exception from the work (NaN loss, out of memory, a bug in one
  candidate) fails that trial with its reason, and the loop goes on;
* **Ctrl-C / SIGTERM**: the running trial is failed as "interrupted" (not counted, so a rerun
  replaces it); every finished trial is already in the study;
* **storage outages**: every storage call retries for ``--storage-retry`` seconds
  (:mod:`nas.study.store.retrying`); past that, a finished trial goes to a local recovery file and the
  command exits with code 3 (:mod:`nas.study.store.recovery`); the next run puts it back first.

The work is passed in as an :class:`Evaluate` callable: search's candidate evaluation
(:mod:`nas.study.search`), scaling's grid point (:mod:`nas.study.scale`), and later ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from ...train.trainer import CandidateFailed
from ..store.liveness import DEFAULT_STALE_AFTER, fail_orphaned_trials, fail_stale_trials
from .prefetch import AskAhead, Asked, Held, StudyThread, ask
from ..store.records import INTERRUPTED, TrialRecord, counts_toward_total
from ..store.recovery import StorageLost, claimed_elsewhere, reinsert, save_result
from ..store.retrying import StorageUnavailable
from ..sampling.samplers import warm_up
from ..store.storage import StudyHandle

SURPLUS = "surplus: the study total was reached by other workers"
# Overlapped, the saves and tells go to the study thread with the asks (nas.study.run.prefetch); False:
# the loop's own thread makes them. With a trainer that sleeps 0.25 s (a GPU's graphed demo trial),
# journal file: 1.2-1.3% of the loop outside the trainer against 1.7% (SQLite ~6.9 against ~8.1%;
# BENCHMARKS.md §2, "the study thread").
STORAGE_ON_STUDY_THREAD = True


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
        self._on_save = on_save  # the loop's cue that training starts (nas.study.run.prefetch)
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
class LoopSettings:
    total: int  # evaluated trials wanted in the study, counted study-wide
    stale_after: float = DEFAULT_STALE_AFTER  # seconds without heartbeat before a trial is lost
    poll_interval: float = 1.0  # seconds between looks while the last trials run elsewhere
    max_asks: int | None = None  # stop after this many proposals (e.g. most over budget)
    overlap_sampling: bool = False  # ask for the next trial while this one trains (nas.study.run.prefetch)


@dataclass
class LoopSummary:
    asks: int
    evaluated: int
    ran_out_of_asks: bool


def warms_up(settings: LoopSettings) -> bool:
    """Whether GP's one-time start-up is paid in a thread beside the first trials: where the
    loop works beside training anyway (overlapped sampling: the default on a GPU, whose trainer
    leaves the cores idle; there it took the loop x0.98 per trial on a 0.25 s stand-in). On the
    CPU it only moved ~1.7 points of the demo loop's time from outside the trainer into it, and
    the whole cost rose a little (x1.10 against x1.07, BENCHMARKS.md §2), so it is off there."""
    return settings.overlap_sampling


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

    if isinstance(exc, CandidateFailed):
        return str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        torch.cuda.empty_cache()
        return f"CUDA out of memory: {str(exc).splitlines()[0]}"
    return f"{type(exc).__name__}: {exc}"


def _flusher(handle: StudyHandle, trial_id: int) -> Callable[[], None]:
    """The storage's flush of this trial's held writes (nas.study.store.write_buffer), where it has one."""
    flush = getattr(handle.storage, "flush", None)
    return (lambda: flush(trial_id)) if flush is not None else (lambda: None)


def _evaluate_isolated(evaluate: Evaluate, trial: optuna.Trial, context: TrialContext) -> Outcome:
    try:
        return evaluate(trial, context)
    except (KeyboardInterrupt, SystemExit, StorageUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - one bad candidate must not stop the work
        return Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=failure_reason(exc)[:500]))


def _tell(handle: StudyHandle, trial: optuna.Trial, context: TrialContext, outcome: Outcome) -> None:
    """Store the outcome; if the storage stays away past the retry window, keep it in a local
    recovery file and exit with code 3 (the next run puts it back)."""
    try:
        context.save(outcome.record)
        handle.study.tell(trial, outcome.values, state=outcome.state)
    except StorageUnavailable as exc:
        path = save_result(handle.name, trial, outcome.state, outcome.values, outcome.record)
        raise StorageLost(f"{exc}; trial {trial.number}'s result is kept in {path} and goes back into "
                          f"the study when the same command runs again") from None


@dataclass
class Told:
    """A trial whose tell runs on the study thread (overlapped loop)."""

    number: int
    context: TrialContext
    state: TrialState


def run_loop(handle: StudyHandle, evaluate: Evaluate, settings: LoopSettings,
             on_told: OnTold | None = None) -> LoopSummary:
    """Ask, evaluate, tell until the study holds ``settings.total`` evaluated trials. Overlapped
    (``settings.overlap_sampling``), the asks, saves and tells run on a study thread beside the
    training (:mod:`nas.study.run.prefetch`). Every trial asked is in ``held`` until its tell is given;
    whatever ends the loop, none is left RUNNING with a heartbeat beating (issue 36)."""
    study = handle.study
    asks = 0
    current: Asked | None = None
    held = Held()
    background = StudyThread()
    ahead = AskAhead(handle, background, held)
    told: Told | None = None  # overlapped: the last trial, its tell given to the study thread

    def collect() -> None:
        """Wait for the study thread's saves and tells (raising any failure), then report the
        trial told."""
        nonlocal told
        background.settle()
        if told is not None and on_told is not None:
            on_told(told.number, told.context.record, told.state)
        told = None

    if warms_up(settings):
        warm_up(study.sampler)  # GP's lazy imports beside the start-up trials, not at its first ask
    try:
        while True:
            pending = current  # a trial asked ahead while the last one trained, or None
            if pending is None:
                collect()  # exact counts before asking, waiting or stopping
            reinsert(handle)  # results a storage outage left in the recovery folder, before judging
            snapshot = study.get_trials(deepcopy=False)  # one read serves the checks below
            if fail_stale_trials(handle, settings.stale_after, snapshot, claimed_elsewhere(handle.name)):
                snapshot = study.get_trials(deepcopy=False)
            done, running = slots_taken(snapshot)
            if done >= settings.total or (settings.max_asks is not None and asks >= settings.max_asks):
                collect()
                break
            if pending is None and done + running >= settings.total:  # the last trials run elsewhere
                # This loop holds no trial here (none current, none asked ahead): one its process
                # beats is run by no loop, and is failed and retried instead of waited for.
                if fail_orphaned_trials(handle, snapshot):
                    continue
                time.sleep(settings.poll_interval)
                continue
            if pending is None:
                asks += 1
            current = pending or ask(handle, held)
            trial = current.trial

            def ask_next(done: int = done, running: int = running) -> None:
                """At the first save (training starts): ask for the next trial meanwhile, if
                another is wanted beyond this one."""
                wanted = done + running + (pending is None) < settings.total
                if settings.overlap_sampling and wanted and (settings.max_asks is None or asks < settings.max_asks):
                    ahead.start()

            flush = _flusher(handle, current.trial_id)
            deferred = settings.overlap_sampling and STORAGE_ON_STUDY_THREAD
            flush = background.later(flush) if deferred else flush
            context = TrialContext(trial, snapshot, flush=flush, on_save=ask_next)
            if sum(slots_taken(study.get_trials(deepcopy=False), trial.number)) >= settings.total:
                outcome = Outcome(TrialState.FAIL, None, TrialRecord(fail_reason=SURPLUS))
            else:
                ahead.open()  # the candidate's first save may ask ahead, until take() below
                outcome = _evaluate_isolated(evaluate, trial, context)
            try:
                following = ahead.take()  # before telling: ask and tell never run at once
                collect()  # the trial before, told on the study thread before that ask
            except (StorageUnavailable, StorageLost):
                _tell(handle, trial, context, outcome)  # keep this result too before leaving
                held.release(current)
                raise
            asks += following is not None
            if deferred:
                background.submit(lambda trial=trial, context=context, outcome=outcome:
                                  _tell(handle, trial, context, outcome))
                told = Told(trial.number, context, outcome.state)
            else:
                _tell(handle, trial, context, outcome)
            held.release(current)
            current = following
            if on_told is not None and told is None:
                on_told(trial.number, context.record, outcome.state)
        held.fail_all(study, SURPLUS)  # asked ahead, and the total was reached meanwhile
    except StorageUnavailable as exc:
        raise StorageLost(f"{exc}; nothing finished was lost; rerun the same command when the storage "
                          f"is back") from None
    except KeyboardInterrupt:
        _interrupted(study, held, ahead, background)
        raise
    finally:
        for asked in held.all():  # an outage or an error ended the loop: no heartbeat outlives it
            held.release(asked)
        background.close()
    done = evaluated_count(study)
    return LoopSummary(asks, done, done < settings.total)


def _interrupted(study: optuna.Study, held: Held, ahead: AskAhead, background: StudyThread) -> None:
    """Ctrl-C: the tells already given finish (a finished trial is never lost); every trial still
    held (the one training, the one asked ahead) is failed, so that a rerun replaces it."""
    try:
        background.settle()
    except Exception:  # noqa: BLE001 - a tell the storage refused: its result went to the recovery file
        pass
    try:
        ahead.take()  # an ask in flight lands in held
    except Exception:  # noqa: BLE001 - the ask itself failed: nothing to fail
        pass
    held.fail_all(study, INTERRUPTED)
