"""The fence around Optuna's journal storage internals: a trial's held writes as one appended
batch.

JournalStorage's public calls append one line each, each a locked, fsync'd append;
:func:`write` appends the same lines in one batch under the storage's own lock, then replays them
as Optuna does after any write. Everything it reads of Optuna's internals is checked by
:func:`batchable` first: where a release has moved any of it, the write buffer writes field by
field through the public API (tests/test_write_buffer.py runs both ways). Tested with Optuna 5.0.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalStorage


def _operations() -> Any | None:  # noqa: ANN401 - Optuna's JournalOperation enum
    try:
        from optuna.storages.journal._storage import JournalOperation
    except ImportError:
        return None
    needed = ("SET_TRIAL_PARAM", "SET_TRIAL_USER_ATTR", "SET_TRIAL_SYSTEM_ATTR")
    return JournalOperation if all(hasattr(JournalOperation, name) for name in needed) else None


def batchable(storage: BaseStorage) -> bool:
    """Whether ``storage`` is a journal storage this module can append a batch to."""
    if not isinstance(storage, JournalStorage) or _operations() is None:
        return False
    replay = getattr(storage, "_replay_result", None)
    return (hasattr(storage, "_thread_lock") and hasattr(replay, "worker_id")
            and callable(getattr(getattr(storage, "_backend", None), "append_logs", None))
            and callable(getattr(storage, "_sync_with_backend", None)))


def write(journal: JournalStorage, trial_id: int, params: dict[str, tuple[float, BaseDistribution]],
          user_attrs: dict[str, Any], system_attrs: dict[str, Any]) -> None:
    """One appended batch of the lines JournalStorage's single writes would append one by one."""
    operation = _operations()
    assert operation is not None, "call batchable() first"
    with journal._thread_lock:
        worker = journal._replay_result.worker_id
        logs = [{"op_code": operation.SET_TRIAL_PARAM, "worker_id": worker, "trial_id": trial_id,
                 "param_name": name, "param_value_internal": value,
                 "distribution": distribution_to_json(dist)} for name, (value, dist) in params.items()]
        # One line per attribute: the journal's replay takes one key per line.
        logs += [{"op_code": operation.SET_TRIAL_USER_ATTR, "worker_id": worker, "trial_id": trial_id,
                  "user_attr": {key: value}} for key, value in user_attrs.items()]
        logs += [{"op_code": operation.SET_TRIAL_SYSTEM_ATTR, "worker_id": worker, "trial_id": trial_id,
                  "system_attr": {key: value}} for key, value in system_attrs.items()]
        journal._backend.append_logs(logs)
        journal._sync_with_backend()
