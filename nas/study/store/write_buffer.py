"""A trial's writes gathered into one transaction: one record per save, not one write per field.

Optuna writes every suggested parameter and every attribute as its own storage call, and each is
a transaction (an fsync'd journal line, a SQLite or PostgreSQL commit): a search trial made
~40 of them (21 parameters, 13 record fields, 3 system attributes, create and tell), 45 ms a
trial on SQLite against 8 ms for the sampler itself (``python -m bench.overhead``).
:class:`WriteBuffer` sits under the study (inside :class:`~nas.study.store.retrying.RetryingStorage`)
and holds the parameters and attributes of the trials *this process* is running until
:meth:`WriteBuffer.flush`, which writes them together: one transaction on an RDB storage, one
appended batch of lines on a journal file, separate calls on any other storage. The loop
flushes whenever it saves the trial's record (before training, so other workers see the
candidate; after each successive-halving rung, so they see its result) and at tell.

Reads through the buffer see the held writes (the sampler and the loop read their own trial),
other processes see them after the flush. Heartbeats are written at once (``immediate``), and
so is anything written to a trial this process is not running (a stale trial of a dead worker).
A killed process loses only its running trial's held writes, which the study discards anyway
(the trial is failed as "worker lost" and retried).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from . import optuna_journal, optuna_rdb


@dataclass
class _Held:
    """What one running trial has written and not yet flushed."""

    params: dict[str, tuple[float, BaseDistribution]] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.params or self.user_attrs or self.system_attrs)

    def overlay(self, t: FrozenTrial) -> FrozenTrial:
        if not self:
            return t
        t = copy.copy(t)
        t.params = {**t.params, **{n: d.to_external_repr(v) for n, (v, d) in self.params.items()}}
        t.distributions = {**t.distributions, **{n: d for n, (_, d) in self.params.items()}}
        t.user_attrs = {**t.user_attrs, **self.user_attrs}
        t.system_attrs = {**t.system_attrs, **self.system_attrs}
        return t


class WriteBuffer(BaseStorage):
    """Holds the writes of this process's running trials until :meth:`flush` (see the module)."""

    def __init__(self, inner: BaseStorage, immediate: Iterable[str] = ()) -> None:
        self.inner = inner
        self.immediate = frozenset(immediate)  # system attribute keys written at once
        self.transactions = 0  # writes sent to the storage (each one transaction): bench.overhead
        self._held: dict[int, _Held] = {}
        self._numbers: dict[int, int] = {}  # trial id -> its number (frozen trials show numbers)
        self._ids: dict[tuple[int, int], int | None] = {}  # (study id, number) -> trial id
        self._lock = threading.RLock()
        # Distributions already checked against the study's (a study's parameter keeps its
        # distribution): spares the RDB write a query per parameter.
        self._checked: dict[str, BaseDistribution] = {}

    # -- the trials this process runs
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = self.inner.create_new_trial(study_id, template_trial)
        self.transactions += 1
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self._open(trial_id)
        return trial_id

    def _open(self, trial_id: int) -> None:
        # No read here: a failed read would make the retrying layer repeat the create (a second
        # trial) or the WAITING -> RUNNING step (refused); the number is read when first needed.
        with self._lock:
            self._held[trial_id] = _Held()

    def _number(self, trial_id: int) -> int:
        if trial_id not in self._numbers:
            self._numbers[trial_id] = self.inner.get_trial(trial_id).number
        return self._numbers[trial_id]

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Any = None) -> bool:  # noqa: ANN401 - Sequence[float] | None
        if state == TrialState.RUNNING:
            taken = self.inner.set_trial_state_values(trial_id, state, values)
            self.transactions += 1
            if taken:  # an enqueued trial this process now runs
                self._open(trial_id)
            return taken
        self.flush(trial_id)
        done = self.inner.set_trial_state_values(trial_id, state, values)
        self.transactions += 1
        with self._lock:
            self._held.pop(trial_id, None)
            self._numbers.pop(trial_id, None)
        return done

    def flush(self, trial_id: int) -> None:
        """Write what ``trial_id`` holds in one transaction (kept if the write fails, so that a
        retry writes it again)."""
        with self._lock:
            held = self._held.get(trial_id)
            if not held:
                return
            _write(self.inner, trial_id, held, self._checked)
            fields = len(held.params) + len(held.user_attrs) + len(held.system_attrs)
            self.transactions += 1 if _batches(self.inner) else fields
            self._held[trial_id] = _Held()
            self._checked.update({name: dist for name, (_, dist) in held.params.items()})

    def _holding(self, trial_id: int) -> _Held | None:
        """Where a write to ``trial_id`` is held (None: it goes out at once)."""
        return self._held.get(trial_id)

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        with self._lock:
            held = self._holding(trial_id)
            if held is not None:
                held.params[param_name] = (param_value_internal, distribution)
                return
        self.inner.set_trial_param(trial_id, param_name, param_value_internal, distribution)
        self.transactions += 1

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            held = self._holding(trial_id)
            if held is not None:
                held.user_attrs[key] = value
                return
        self.inner.set_trial_user_attr(trial_id, key, value)
        self.transactions += 1

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            held = None if key in self.immediate else self._holding(trial_id)
            if held is not None:
                held.system_attrs[key] = value
                return
        self.inner.set_trial_system_attr(trial_id, key, value)
        self.transactions += 1

    # -- reads see the held writes
    def get_trial(self, trial_id: int) -> FrozenTrial:
        t = self.inner.get_trial(trial_id)
        with self._lock:
            held = self._held.get(trial_id)
            return held.overlay(t) if held else t

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        trials = self.inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        with self._lock:
            mine = {self._number(trial_id): held for trial_id, held in self._held.items()
                    if held and self._id_of(study_id, self._number(trial_id)) == trial_id}
        return [mine[t.number].overlay(t) if t.number in mine else t for t in trials] if mine else trials

    def _id_of(self, study_id: int, number: int) -> int | None:
        if (study_id, number) not in self._ids:
            try:
                self._ids[study_id, number] = self.inner.get_trial_id_from_study_id_trial_number(study_id, number)
            except KeyError:
                self._ids[study_id, number] = None
        return self._ids[study_id, number]

    def get_trial_params(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).params

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).user_attrs

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).system_attrs

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        with self._lock:
            held = self._held.get(trial_id)
            if held is not None and param_name in held.params:
                return held.params[param_name][0]
        return self.inner.get_trial_param(trial_id, param_name)

    def __getattr__(self, name: str) -> Any:  # anything BaseStorage does not declare
        return getattr(self.inner, name)


def _batches(storage: BaseStorage) -> bool:
    """Whether :func:`_write` writes in one transaction on this storage."""
    return optuna_rdb.batchable(storage) is not None or optuna_journal.batchable(storage)


def _write(storage: BaseStorage, trial_id: int, held: _Held, checked: dict[str, BaseDistribution]) -> None:
    """``held`` in one transaction where the storage allows it (the fences around Optuna's
    internals say where), else field by field through Optuna's public API."""
    rdb = optuna_rdb.batchable(storage)
    if rdb is not None:
        optuna_rdb.write(rdb, trial_id, held.params, held.user_attrs, held.system_attrs, checked)
    elif optuna_journal.batchable(storage):
        optuna_journal.write(storage, trial_id, held.params, held.user_attrs, held.system_attrs)  # type: ignore[arg-type]
    else:
        for name, (value, dist) in held.params.items():
            storage.set_trial_param(trial_id, name, value, dist)
        for key, value in held.user_attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        for key, value in held.system_attrs.items():
            storage.set_trial_system_attr(trial_id, key, value)


def _passthrough(name: str) -> Any:  # noqa: ANN401 - a method
    writes = name.startswith(("set_", "create_", "delete_", "record_"))

    def method(self: WriteBuffer, *args: Any, **kwargs: Any) -> Any:
        self.transactions += writes
        return getattr(self.inner, name)(*args, **kwargs)
    method.__name__ = name
    return method


for _name in [m for m in dir(BaseStorage) if not m.startswith("_") and callable(getattr(BaseStorage, m))
              and m not in WriteBuffer.__dict__]:
    setattr(WriteBuffer, _name, _passthrough(_name))
WriteBuffer.__abstractmethods__ = frozenset()
