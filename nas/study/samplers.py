"""Optuna samplers and pruners by the names the CLI takes (no torch: ``nas --help`` reads these)."""

from __future__ import annotations

import optuna

from ..errors import UserError, allowed

SAMPLERS = ("tpe", "nsga2", "random", "gp")
# GP: in the replay benchmark on five problems of different structure (bench/sampler_choice.py,
# BENCHMARKS.md §12: mobile on mnist5k and on the harder task, mixed with ordinal and
# all-categorical encodings, a synthetic categorical space) it reached random search's 100-trial
# hypervolume in 25-56 trials, first or within noise of first on each; no cheaper candidate (TPE
# as configured or with Optuna 5's defaults, GP then TPE, GP on a bounded history) kept that.
# Its ask costs ~0.3-0.5 s at 100 trials, growing with the study: for searches of many hundreds
# of cheap trials, --sampler tpe keeps sampling time small (BENCHMARKS.md §2).
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
