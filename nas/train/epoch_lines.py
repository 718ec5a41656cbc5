"""Progress inside one long training run: a line per epoch, at most every few seconds.

A 40-epoch final training of a larger network runs for minutes with nothing to show between
its start and its result line (issue 33). The trainer reports each finished epoch to whoever
watches the run (:func:`watching`, set by the command around the trainer call); the watcher
prints "epoch 3/40, train loss 0.512, 12s, ~2m40s left" no more often than every
:data:`EVERY_SECONDS`, and only to a terminal: logs and captured output keep just the per-run
lines. ``--quiet`` (:func:`quiet`) turns the lines off. Kept in context variables so that no
trainer, fake trainer or worker process needs another parameter: a run nobody watches reports
to nobody.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO

from ..units import duration

EVERY_SECONDS = 5.0  # a line at most this often: readable, and a 1-epoch trial prints none

_watcher: ContextVar["EpochLines | None"] = ContextVar("nas_epoch_watcher", default=None)
_quiet: ContextVar[bool] = ContextVar("nas_epoch_lines_quiet", default=False)


@dataclass
class EpochLines:
    """Prints a run's epoch lines to ``out`` (``label`` says which run)."""

    label: str
    out: TextIO
    every: float = EVERY_SECONDS
    last: float = field(default_factory=time.monotonic)

    def __call__(self, epoch: int, epochs: float | None, time_budget: float | None, loss: float,
                 elapsed: float) -> None:
        if epochs is not None and epoch >= epochs:
            return  # the run's own result line follows
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        if epochs is not None:
            of, left = f"/{epochs:g}", elapsed / epoch * (epochs - epoch)
        else:
            of, left = "", max(0.0, (time_budget or 0.0) - elapsed)
        print(f"    {self.label}: epoch {epoch}{of}, train loss {loss:.3f}, {duration(elapsed)}, "
              f"~{duration(left)} left", file=self.out, flush=True)


@contextmanager
def watching(label: str, out: TextIO | None, every: float = EVERY_SECONDS) -> Iterator[None]:
    """Epoch lines for the runs trained inside this block, where ``out`` is a terminal and the
    command was not asked to be quiet."""
    wanted = out is not None and not _quiet.get() and bool(getattr(out, "isatty", lambda: False)())
    token = _watcher.set(EpochLines(label, out, every) if wanted and out is not None else None)
    try:
        yield
    finally:
        _watcher.reset(token)


@contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """No epoch lines inside this block (``--quiet``)."""
    token = _quiet.set(on)
    try:
        yield
    finally:
        _quiet.reset(token)


def report_epoch(epoch: int, epochs: float | None, time_budget: float | None, loss: float,
                 elapsed: float) -> None:
    """The trainer's call after each whole epoch: to the run's watcher, if any."""
    watcher = _watcher.get()
    if watcher is not None:
        watcher(epoch, epochs, time_budget, loss, elapsed)
