"""Optuna samplers and pruners by the names the CLI takes (no torch: ``nas --help`` reads these)."""

from __future__ import annotations

import threading

import optuna

from ...errors import UserError, allowed
from .lean_gp import LeanGPSampler

SAMPLERS = ("auto", "gp", "tpe", "nsga2", "random")
# GP: in the replay benchmark on five problems of different structure (bench/sampler_choice.py,
# BENCHMARKS.md §12: mobile on mnist5k and on the harder task, mixed with ordinal and
# all-categorical encodings, a synthetic categorical space) it reached random search's 100-trial
# hypervolume in 25-56 trials, first or within noise of first on each; no cheaper candidate (TPE as
# configured or with Optuna 5's defaults, GP for 25 trials then TPE, GP on a bounded history) kept
# that. Its ask is made cheaper by a smaller acquisition search and by leaving a torch function
# mode Optuna wraps it in (LeanGPSampler: 73 ms at 100 trials against 330 ms with Optuna's
# settings, §2), which reached the same target in 28-41 trials on the same problems (level with
# or ahead of Optuna's settings, within noise). It still grows with the
# study (a scratch timing: 115 ms at 200 trials, 388 ms at 300), while TPE's stays at 14 ms at
# 1,000. "auto" is GP for the first GP_TRIALS_IN_AUTO trials, past the 28-56 GP needed on every
# problem, then TPE: GP's proposals where it was measured, and a bounded cost in studies of hundreds
# or thousands of trials -- where any parameter is ordered. Where every parameter is an unordered
# category, "auto" is TPE from the first result on (ByStructureSampler, issue 32): on the public
# NAS-Bench-201 table (six edges of five unordered operations, 15,625 published accuracies;
# reference point at the median accuracy) GP did not reach random search's 100-trial hypervolume
# within 60 trials on the mean curve (9 of 20 seeds never did within 100), TPE reached it in 49,
# the rule in 46. Replayed on all six problems, 20 seeds each (python -m bench.sampler_choice
# --seeds=20 ..., BENCHMARKS.md §12), the rule needed 28 / 43 / 30 / 50 / 36 / 46 trials
# (mobile/mnist5k, mobile/cluttered, mixed, mixed all categorical, synthetic 6x5, NB201), the
# GP-only default 28 / 43 / 30 / 29 / 34 / >60: no table left where it loses to random search,
# at the price of the all-categorical encoding of the mixed space (29 -> 50; the shipped spaces
# all have ordered choices, so they keep GP). Judged by long training instead (our own table: 303
# mobile genotypes on cluttered with 20-epoch test accuracies, bench/replay.py, BENCHMARKS.md §16,
# 20 repeats at equal compute, the NASWOT signal, judged on a seed the search never saw): the
# default's reported front +2.42 sd above random search's, ahead from a quarter of the budget on,
# random's final front reached with 40% of its compute; TPE alone +0.81 sd. With 1-epoch
# accuracy as the signal (tau +0.20 against long training) model-based proposals fell below
# random ones: the sampler cannot be better than the signal it is told.
DEFAULT_SAMPLER = "auto"
GP_TRIALS_IN_AUTO = 100
PRUNERS = ("none", "median", "hyperband")
# Ask for the next candidate while the current one trains (nas.study.run.prefetch): None = on where
# the trials train on a GPU, off on the CPU. The sampler then proposes beside a trial whose result
# it lacks, and in the five-problem replays over 20 seeds GP needed 31-48 trials instead of
# 30-42 to reach random search's 100-trial front, worse on all five (§12): about x1.10 the
# trials, and about twice the sampler's work (GP scores its acquisition over the pending trial's
# outcomes). On the CPU that costs more than the 7-11% of the loop it hides (§2: time to the same
# front 30 s asked ahead against 27 s serial). On an H100 the trainer's CUDA graphs made a demo
# trial 0.25 s in the trainer (§14), beside ~0.2 s of serial sampling and storage (a 24-trial
# graphed search ran 0.45 s per trial): overlapping would then take the loop to ~0.27 s per
# trial, x0.66 the wall time to the same front after the extra trials; with the eager trainer
# (0.81 s) it was x0.90. Overlapped on that GPU, the loop spent 0.8% outside the trainer
# (journal file; eager trainer), serial 7.4% (SQLite). Overlap with graphs was not timed
# directly: the lease ran out.
DEFAULT_OVERLAP_SAMPLING: bool | None = None


def overlap_for(setting: bool | None, device: str) -> bool:
    """Whether a worker training on ``device`` asks ahead: ``setting``, or by default where it
    trains on a GPU (:data:`DEFAULT_OVERLAP_SAMPLING`)."""
    return device.startswith("cuda") if setting is None else setting


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


class SwitchingSampler(optuna.samplers.BaseSampler):
    """``first`` until the study holds ``switch_at`` finished trials, ``then`` afterwards; the
    choice is made once per trial (in ``before_trial``), so that a trial finishing elsewhere
    meanwhile cannot switch samplers halfway through one proposal."""

    def __init__(self, first: optuna.samplers.BaseSampler, then: optuna.samplers.BaseSampler,
                 switch_at: int) -> None:
        self.first, self.then, self.switch_at = first, then, switch_at
        self._chosen: dict[int, optuna.samplers.BaseSampler] = {}

    def _for(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> optuna.samplers.BaseSampler:
        if trial.number not in self._chosen:
            done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
            self._chosen[trial.number] = self.first if done < self.switch_at else self.then
        return self._chosen[trial.number]

    def before_trial(self, study, trial):  # noqa: ANN001, ANN201
        self._for(study, trial).before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):  # noqa: ANN001, ANN201
        return self._for(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # noqa: ANN001, ANN201
        return self._for(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: ANN001, ANN201
        return self._for(study, trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):  # noqa: ANN001, ANN201
        self._for(study, trial).after_trial(study, trial, state, values)
        self._chosen.pop(trial.number, None)

    def reseed_rng(self) -> None:
        self.first.reseed_rng()
        self.then.reseed_rng()


def make_sampler(name: str, seed: int, n_objectives: int = 2, ordinal_view: bool = True,
                 rungs: list[str] | None = None) -> optuna.samplers.BaseSampler:
    """The sampler ``--sampler name`` means, seeded; it sees ordered numeric choices as indexes
    whichever way the study stores them (:mod:`.ordinal_view`; ``ordinal_view=False`` only for
    the benchmark that measures unordered categories). Under successive halving (``rungs``: the
    rung keys, lowest first) it is fit on one rung's results, BOHB's rule (:mod:`.rung_view`)."""
    inner = _sampler(name, seed)
    if rungs:
        from .rung_view import RungView

        inner = RungView(inner, rungs)
    if not ordinal_view:
        return inner
    from .ordinal_view import OrdinalView

    return OrdinalView(inner)


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        from .lean_tpe import LeanTPESampler  # Optuna's TPE, each finished trial converted once

        return LeanTPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        # Our spaces are static; the one fallback to independent sampling is a trial asked
        # ahead (--overlap-sampling) while the 10th start-up trial was still training.
        return LeanGPSampler(seed=seed, n_startup_trials=10, warn_independent_sampling=False)
    if name == "auto":
        tpe = _sampler("tpe", seed)
        return ByStructureSampler(SwitchingSampler(_sampler("gp", seed), tpe, GP_TRIALS_IN_AUTO), tpe)
    raise UserError(f"--sampler {name!r}: allowed: {allowed(SAMPLERS)}")


class ByStructureSampler(SwitchingSampler):
    """``first`` where any parameter is ordered (an integer in the ordinal view), ``then`` where
    every parameter is an unordered category; decided per trial from the latest finished trial's
    parameters (``first`` until one has finished). Why: see ``"auto"`` above (issue 32)."""

    def __init__(self, first: optuna.samplers.BaseSampler, then: optuna.samplers.BaseSampler) -> None:
        super().__init__(first, then, 0)

    def _for(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> optuna.samplers.BaseSampler:
        if trial.number not in self._chosen:
            done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            unordered = bool(done) and bool(done[-1].distributions) and all(
                isinstance(d, optuna.distributions.CategoricalDistribution) for d in done[-1].distributions.values())
            self._chosen[trial.number] = self.then if unordered else self.first
        return self._chosen[trial.number]

    def reseed_rng(self) -> None:
        self.first.reseed_rng()  # ``then`` is inside ``first`` too: reseeded there


def warm_up(sampler: optuna.samplers.BaseSampler) -> threading.Thread | None:
    """Where ``sampler`` proposes with GP, pay GP's one-time start-up in a daemon thread now,
    beside the random start-up trials, instead of in the loop at the first GP proposal.

    Optuna imports what its GP needs (scipy.stats, scipy.optimize, ...) lazily, at that first
    proposal: in a demo search it took 540 ms against ~50 ms for the next ones, and 0.79 s of a
    profiled 0.87 s first proposal was imports (BENCHMARKS.md §2). A throwaway proposal on a
    tiny in-memory study loads all of it; any failure there is left for the real ask to meet."""
    from .ordinal_view import OrdinalView

    from .rung_view import RungView

    while isinstance(sampler, (OrdinalView, RungView)):
        sampler = sampler.inner
    while isinstance(sampler, SwitchingSampler):  # auto: by structure, then GP for its first trials
        sampler = sampler.first
    first = sampler
    if not isinstance(first, optuna.samplers.GPSampler):
        return None
    thread = threading.Thread(target=_throwaway_gp_proposal, daemon=True, name="nas-gp-warm-up")
    thread.start()
    return thread


def _throwaway_gp_proposal() -> None:
    try:
        study = optuna.create_study(directions=["maximize", "minimize"],
                                    sampler=LeanGPSampler(seed=0, n_startup_trials=2))
        for _ in range(3):
            trial = study.ask()
            a, b = trial.suggest_int("a", 0, 3), trial.suggest_categorical("b", (0, 1))
            trial.set_constraint("c", a - 1.5)
            study.tell(trial, [a + b, a - b])
    except Exception:  # noqa: BLE001 - a warm-up only; the search's own ask reports real errors
        pass


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    raise UserError(f"--pruner {name!r}: allowed: {allowed(PRUNERS)}")
