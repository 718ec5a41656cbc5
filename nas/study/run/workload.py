"""What a workload (search, retrain, scale) gives the driver and the worker processes: one object
that crosses into a worker process and opens its part there (:class:`Workload`), and what that
opening holds (:class:`Opened`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..store.storage import StudyHandle
from .settings import LoopSettings
from .steps import Evaluate, OnTold


@dataclass
class Opened:
    """A workload opened where it runs: its study, its evaluation, the loop's settings, what
    reports each trial told, and what ends with the loop (a progress line)."""

    handle: StudyHandle
    evaluate: Evaluate
    settings: LoopSettings
    on_told: OnTold | None = None
    close: Callable[[], None] = field(default=lambda: None)


class Workload(Protocol):
    """Picklable: it crosses into spawned worker processes."""

    def open(self, index: int, device: str, ready: Any = None) -> Opened:  # noqa: ANN401 - the workload's own
        """Open worker ``index``'s part on ``device``; ``ready``: what the command's own process
        already loaded (None in a worker process)."""
        ...
