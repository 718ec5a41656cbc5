"""Public path ``nas.results`` (README, users' scripts): a study as DataFrames and its Pareto front.

The code lives in :mod:`nas.report.results`; this module only re-exports its public names.
"""

from .report.results import (choice_effects, format_front, front_hypervolume, hypervolume,
                             hypervolume_history, knee, load_study, non_dominated, pareto_frame,
                             resolve_trial, trials_frame)

__all__ = ["choice_effects", "format_front", "front_hypervolume", "hypervolume", "hypervolume_history",
           "knee", "load_study", "non_dominated", "pareto_frame", "resolve_trial", "trials_frame"]
