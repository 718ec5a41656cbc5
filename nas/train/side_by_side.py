"""What trainers running side by side in one process (a grouped loop's worker threads,
:mod:`nas.train.group`) must share or keep apart.

* **The global random state, set and drawn in one piece**: a trainer seeds torch's global
  generator and draws its network's initial weights from it (and the zero-cost signals fork it).
  Two threads doing so at once would interleave their draws, and a candidate's initial weights
  would depend on what trained beside it. :data:`SETUP` makes seeding, building and the
  zero-cost pass one step, taken by one thread at a time; everything else a trainer draws comes
  from its own generator (data order, augmentation). The zero-cost pass is inside because it
  runs in training mode and forks the global state for its dropout masks: two at once would
  restore each other's state, and a signal's value would depend on timing. So a group computes
  signals at initialisation one candidate at a time; what runs side by side is training.
* **CUDA graph captures, one at a time** (:data:`CAPTURE`): a capture records every kernel its
  thread issues; captures are taken in ``thread_local`` error mode, so that another thread's work
  does not invalidate one, and never two at once.
* **Stopping from outside**: when the loop that asked for a training ends early (Ctrl-C, a
  storage outage, an error), it has failed the trial already, and the thread should not train on
  to the end of its budget. Each worker thread carries a stop event, which trainers check once
  per step (:func:`check_stop`: one thread-local read) and leave by raising
  :class:`TrainingStopped`. Outside a worker thread there is no event and nothing stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

SETUP = threading.RLock()
CAPTURE = threading.Lock()

_local = threading.local()


class TrainingStopped(Exception):
    """The loop that asked for this training has ended; its trial is already failed."""


@contextmanager
def stoppable(event: threading.Event) -> Iterator[None]:
    """Training run inside this block, in this thread, stops once ``event`` is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def check_stop() -> None:
    """Raise :class:`TrainingStopped` if this thread's stop event is set."""
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise TrainingStopped("the loop that asked for this training has ended")
