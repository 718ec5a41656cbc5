"""Ctrl-C (and a scheduler's SIGTERM) held back across a few lines that must not be cut in two.

A ``KeyboardInterrupt`` can land between any two bytecodes of the main thread. Inside Optuna's
``study.ask()`` it would leave a trial created in the storage, RUNNING, with no heartbeat and
in no loop's hands: a rerun then waits ``--stale-after`` seconds for it to turn stale (issue 36).
Inside a database driver's commit it can leave the connection mid-transaction, and the error the
driver then raises while closing the session replaces the ``KeyboardInterrupt``: the search went
on, and the candidate was recorded as failed with a storage error (seen in the Ctrl-C stress
test on PostgreSQL). :func:`interrupts_held` delays the signal to the end of such a block (every
storage call, nas.study.store.retrying; an ask), where the loop's own handling (fail what it
holds, keep what finished) takes over. Only the main thread receives signals; elsewhere the block
runs as it is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM recorded instead of handled; then hand each one
    recorded to the handler that was in place (which raises ``KeyboardInterrupt``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):  # a Python handler (Ctrl-C's default raises KeyboardInterrupt)
            previous[signum] = handler
            signal.signal(signum, lambda received, frame: caught.append(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in caught[:1]:
            previous[signum](signum, None)
