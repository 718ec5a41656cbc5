"""The one ask/tell loop: every piece of work that trains candidates in a study runs in it, in one
of three forms sharing their steps (:mod:`nas.study.run.steps`): serial (the CPU default),
overlapped (the GPU default: the next trial asked while this one trains) or grouped (``--group
K``: K candidates in training at once, :mod:`nas.study.run.grouped`).

The work is passed in as an :class:`~nas.study.run.steps.Evaluate` callable: search's candidate
evaluation (:mod:`nas.study.search`), scaling's grid point (:mod:`nas.study.scale`), retraining's
run (:mod:`nas.study.retrain`), and later ones.
"""

from __future__ import annotations

from ..store.storage import StudyHandle
from .grouped import GroupedLoop
from .overlapped import OverlappedLoop
from .serial import SerialLoop
from .settings import LoopSettings
from .steps import Evaluate, LoopSummary, OnTold, start_gp_early


def run_loop(handle: StudyHandle, evaluate: Evaluate, settings: LoopSettings,
             on_told: OnTold | None = None) -> LoopSummary:
    """Ask, evaluate, tell until the study holds ``settings.total`` evaluated trials; grouped
    where ``settings.group`` > 1, else overlapped where ``settings.overlap_sampling`` says so."""
    start_gp_early(settings, handle.study.sampler)  # GP's lazy imports beside the start-up trials
    form = GroupedLoop if settings.group > 1 else OverlappedLoop if settings.overlap_sampling else SerialLoop
    return form(handle, evaluate, settings, on_told).run()
