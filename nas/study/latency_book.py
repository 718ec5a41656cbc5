"""Measured latency, once per genotype and convention, shared by search, scale and export.

A latency is worth keeping only with the convention it was measured in (runtime and its version,
batch, threads: :meth:`LatencySettings.describe`). The book holds the figures of one convention,
keyed by :meth:`Genotype.key`: those the study already has (a search study's trial records, a
scaling study's own table) are reused, the rest are measured when first asked for. That is what
"measured once per genotype" means across a search, its resumptions, its duplicates, the
scaling grid and the export of what was found.
"""

from __future__ import annotations

from typing import Any

import optuna

from ..arch.genotype import Genotype
from ..model.latency import measure_latency
from ..model.latency_settings import LatencySettings
from .store.records import StudyRecord, TrialRecord

LATENCY_TABLE = "latency_table"
"""A scaling study's user attribute: ``{"convention": ..., "ms": {key: latency}}``."""


class LatencyBook:
    """Latencies of one convention by genotype key; measures what it does not know yet."""

    def __init__(self, settings: LatencySettings, known: dict[str, float] | None = None) -> None:
        self.settings = settings
        self.convention = settings.describe()
        self.ms: dict[str, float] = dict(known or {})

    def knows(self, key: str) -> bool:
        return key in self.ms

    def learn(self, found: dict[str, float]) -> None:
        """Take figures measured elsewhere in this convention; what the book has stays."""
        for key, ms in found.items():
            self.ms.setdefault(key, ms)

    def of(self, genotype: Genotype) -> float:
        key = genotype.key()
        if key not in self.ms:
            self.ms[key] = measure_latency(genotype, self.settings).ms
        return self.ms[key]

    def largest(self, default: float) -> float:
        return max(self.ms.values(), default=default)


def settings_for(record: StudyRecord, runtime: str | None = None) -> LatencySettings | None:
    """Where a later command (scale, export) measures: ``runtime`` when the user names one
    (at the study's batch), else where the search measured; None where neither applies."""
    if runtime is None and record.latency_on is None:
        return None
    settings = LatencySettings(runtime=runtime or record.latency_on, batch=record.latency_batch or 1)
    settings.check()
    return settings


def recorded_in(trials: list[optuna.trial.FrozenTrial]) -> dict[str, float]:
    """The latencies these trials' records hold, by genotype key (the first of each)."""
    found: dict[str, float] = {}
    for t in trials:
        r = TrialRecord.from_trial(t)
        if r.key is not None and r.latency_ms is not None:
            found.setdefault(r.key, r.latency_ms)
    return found


def recorded(study: optuna.Study, convention: str) -> dict[str, float]:
    """A search study's measured latencies by key, where it measured in ``convention``."""
    if StudyRecord.from_study(study).latency != convention:
        return {}
    return recorded_in(study.get_trials(deepcopy=False))


def table_of(study: optuna.Study, convention: str) -> dict[str, float]:
    """A scaling study's own latency table, where it is of ``convention``."""
    table: Any = study.user_attrs.get(LATENCY_TABLE)
    if not isinstance(table, dict) or table.get("convention") != convention:
        return {}
    return {str(k): float(v) for k, v in table.get("ms", {}).items()}


def keep_table(study: optuna.Study, book: LatencyBook, keys: set[str]) -> None:
    """Store the latencies of ``keys`` on a scaling study, for its resumptions and for export."""
    ms = {k: book.ms[k] for k in sorted(keys) if k in book.ms}
    study.set_user_attr(LATENCY_TABLE, {"convention": book.convention, "ms": ms})
