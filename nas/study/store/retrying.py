"""A storage that rides out outages: every call retried with backoff for a window of seconds.

The multi-machine story is one database server shared by many hosts, and real servers restart,
fail over and drop connections: stopping a local PostgreSQL for 15 s once ended a 2-worker
search with exit code 1 and 4 of 10 trials. Every storage call of the toolkit (Optuna's own ask
and tell included, since the study is opened on this object) goes through
:class:`RetryingStorage`: a transient error (a refused or dropped connection, a journal file on
a vanished mount) is retried with exponential backoff until ``window`` seconds have passed,
saying once on stderr that it is waiting. After the window it raises :class:`StorageUnavailable`,
and the loop keeps what it finished in a recovery file (:mod:`nas.study.store.recovery`).

A write whose connection dropped after the server committed it may be retried: telling a trial
twice then finds it finished already, which counts as done when its state is the one told.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from .defaults import DEFAULT_STORAGE_RETRY
from .interrupts import interrupts_held

DEFAULT_WINDOW = DEFAULT_STORAGE_RETRY  # why 180 s: nas/study/store/defaults.py
FIRST_DELAY, MAX_DELAY = 0.5, 10.0


class StorageUnavailable(Exception):
    """The storage did not answer within the retry window."""


def is_transient(exc: BaseException) -> bool:
    """Errors a later attempt can cure: lost or refused connections, an unreachable file."""
    try:
        from sqlalchemy import exc as sa
    except ImportError:  # pragma: no cover - sqlalchemy comes with optuna
        sa = None
    seen: BaseException | None = exc
    while seen is not None:
        if sa is not None and isinstance(seen, (sa.OperationalError, sa.InterfaceError, sa.PendingRollbackError)):
            return True
        if sa is not None and isinstance(seen, sa.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if isinstance(seen, OSError) and not isinstance(seen, (FileNotFoundError, PermissionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _tell_landed(inner: BaseStorage, trial_id: int, state: TrialState) -> bool:
    try:
        return inner.get_trial(trial_id).state == state
    except Exception:  # noqa: BLE001
        return False


class RetryingStorage(BaseStorage):
    """Delegates every call to ``inner``, retrying transient errors for ``window`` seconds
    (``--storage-retry``; it travels with the job to every worker, never through the environment).
    The time the storage last came back is this object's too: each study's storage its own."""

    def __init__(self, inner: BaseStorage, window: float = DEFAULT_WINDOW,
                 say: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.window = window
        self._say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.last_outage_end = 0.0  # when this storage last came back after an outage

    def recovered_within(self, seconds: float) -> bool:
        """Whether this storage came back from an outage less than ``seconds`` ago: heartbeats of
        other workers could not be written during it, so they must not be judged stale yet."""
        return time.time() - self.last_outage_end < seconds

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.inner, name)
        started, delay, attempt = time.time(), FIRST_DELAY, 0
        while True:
            try:
                with interrupts_held():  # Ctrl-C inside a driver's commit can break the connection
                    result = method(*args, **kwargs)
            except optuna.exceptions.UpdateFinishedTrialError:
                if attempt > 0 and name == "set_trial_state_values" and _tell_landed(self.inner, args[0], args[1]):
                    result = True  # the first attempt committed before its connection dropped
                else:
                    raise
            except Exception as exc:  # noqa: BLE001 - sorted by is_transient
                if not is_transient(exc):
                    raise
                waited = time.time() - started
                if waited >= self.window:
                    raise StorageUnavailable(f"the storage did not answer for {waited:.0f} s "
                                             f"(--storage-retry {self.window:g}): {type(exc).__name__}") from exc
                if attempt == 0:
                    self._say(f"waiting for the storage ({type(exc).__name__}); retrying for up to "
                              f"{self.window:g} s (--storage-retry)")
                attempt += 1
                time.sleep(min(delay, max(0.0, self.window - waited)))
                delay = min(delay * 2, MAX_DELAY)
                continue
            if attempt > 0:
                self.last_outage_end = time.time()
                self._say(f"the storage is back after {time.time() - started:.0f} s")
            return result

    def flush(self, trial_id: int) -> None:
        """The write buffer's flush (nas.study.store.write_buffer), retried like any write."""
        if hasattr(self.inner, "flush"):
            self._call("flush", trial_id)

    def __getattr__(self, name: str) -> Any:  # anything BaseStorage does not declare
        return getattr(self.inner, name)


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: RetryingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)
    method.__name__ = name
    return method


for _name in [m for m in dir(BaseStorage) if not m.startswith("_") and callable(getattr(BaseStorage, m))]:
    setattr(RetryingStorage, _name, _delegate(_name))
RetryingStorage.__abstractmethods__ = frozenset()
