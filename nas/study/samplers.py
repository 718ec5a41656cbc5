"""Optuna samplers and pruners by the names the CLI takes (no torch: ``nas --help`` reads these)."""

from __future__ import annotations

import optuna

from ..errors import UserError, allowed

SAMPLERS = ("tpe", "nsga2", "random", "gp")
# GP: in the replay benchmark (bench/search_efficiency.py, BENCHMARKS.md §3) it reached random
# search's hypervolume at 100 trials in 30 trials (TPE > 45, NSGA-II > 45; mean of 5 seeds).
# Its ask costs ~0.5 s at 100 trials (cubic in trials): for searches of many hundreds of cheap
# trials, --sampler tpe keeps sampling time negligible (BENCHMARKS.md §2).
DEFAULT_SAMPLER = "gp"
PRUNERS = ("none", "median", "hyperband")


def sampler_seed(seed: int, index: int = 0, existing_trials: int = 0, joined: bool = False) -> int:
    """The user's ``--seed`` for a new study (worker i of a command: seed + 1000 i), so that a
    fresh search is reproducible. A process that *joins* a study (a resumed run, another host,
    a restarted worker) mixes in the trials already there and its pid: with the user's seed alone
    a random or start-up sampler repeats its first proposals, and hosts running the same command
    propose the same candidates at the same moment (tests/test_chaos.py trained 10 candidates
    twice that way in 24 trials)."""
    if not joined:
        return seed + 1000 * index
    import os

    import numpy as np

    return int(np.random.SeedSequence([seed, index, existing_trials, os.getpid()]).generate_state(1)[0])


def make_sampler(name: str, seed: int, n_objectives: int = 2) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=10)
    raise UserError(f"--sampler {name!r}: allowed: {allowed(SAMPLERS)}")


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    raise UserError(f"--pruner {name!r}: allowed: {allowed(PRUNERS)}")
