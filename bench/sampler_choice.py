"""Choosing the default sampler: search efficiency on spaces of different structure, and its cost.

Each candidate is replayed as the search runs it (de-duplication: a repeated genotype is told its
earlier values and not counted) for 5 seeds on five problems, and the hypervolume after each
trained candidate is compared with random search's after 100 (the §3 measure, BENCHMARKS.md):

* ``mobile/mnist5k``: §3's table (150 random genotypes of the mobile space, 1 epoch, kNN
  surrogate for genotypes outside it);
* ``mobile/cluttered``: the same genotypes trained on the harder embedded task;
* ``mixed/mnist5k``: the mixed space (cell type a categorical choice per stage), 150 of its
  genotypes trained for 1 epoch;
* ``mixed/mnist5k, all categorical``: the same table with every choice suggested as a category;
* ``synthetic 6x5``: six categorical choices of five options each (15,625 architectures, scored
  exactly by a fixed random function, no surrogate), where some combinations are degenerate and
  score at chance, the kind of space on which a user saw GP lose to random search.

Candidates: GP with Optuna's acquisition search (2,048 random points, 10 local searches) and as
the search configures it now (nas.study.sampling.samplers.LeanGPSampler: 512 points, 2 local searches),
and with 4 local searches; TPE as the search configures it (multivariate); TPE with Optuna 5's
multi-objective defaults (independent, constant liar); GP for the first 25 trials then TPE; GP
on a bounded history (the current front and the 40 latest trials); later, variants of the
default's acquisition search and of its EHVI (computed in closed form, bench.exact_ehvi, or
estimated from 32 samples instead of 128). The ask time of each at 100 and 1,000 trials is
measured by ``bench.overhead``.

    python -m bench.sampler_choice
    python -m bench.sampler_choice --name=sampler_choice_lean "gp, Optuna's acquisition search" \
        "gp (default: 2 local searches from 512 points)" "gp, 4 local searches from 512 points"
    python -m bench.sampler_choice --name=sampler_choice_ahead \
        "gp (default: 2 local searches from 512 points)" \
        "gp (default: 2 local searches from 512 points) + asked ahead"
    python -m bench.sampler_choice --name=sampler_choice_ahead20 --seeds=20 \
        "gp (default: 2 local searches from 512 points)" \
        "gp (default: 2 local searches from 512 points) + asked ahead"
    python -m bench.sampler_choice --name=sampler_choice_smallest20 --seeds=20 \
        "gp (default: 2 local searches from 512 points)" "gp, 1 local search from 256 points"
    python -m bench.sampler_choice --name=sampler_choice_rechecked20 --seeds=20 \
        "gp (default: 2 local searches from 512 points)" \
        "gp (default: 2 local searches from 512 points) + asked ahead, re-asked after a front gain"
    python -m bench.sampler_choice --name=sampler_choice_coordinate20 --seeds=20 \
        "gp (default: 2 local searches from 512 points)" "gp, Optuna's local search from the default's starts"
    python -m bench.sampler_choice --name=sampler_choice_steepest20 --seeds=20 \
        "gp (default: 2 local searches from 512 points)" "gp, steepest-ascent acquisition search"
    python -m bench.sampler_choice --name=sampler_choice_exact40 --seeds=40 \
        "gp (default: 2 local searches from 512 points)" "gp, EHVI in closed form"
    python -m bench.sampler_choice --name=sampler_choice_qmc32_40 --seeds=40 \
        "gp (default: 2 local searches from 512 points)" "gp, EHVI estimated from 32 samples"

A candidate named ``"<candidate> + group of K"`` is replayed as ``--group K`` runs it: K candidates
in training at once, each proposal made while the K - 1 before it run (what grouping costs in
trials, on the CPU, without a GPU):

    python -m bench.sampler_choice --name=sampler_choice_group "auto (the default)" \
        "auto (the default) + group of 4" "auto (the default) + group of 8" --seeds=10

``--problems=a,b`` replays only the problems whose names contain one of those words (``nb201``:
the public NAS-Bench-201 ImageNet16-120 table of ``../shared/tables``, no training needed);
``--guided=N`` replays the guided candidates for N trials instead of 60.
``--seeds=N`` replays N seeds instead of 5. Where two or more candidates besides random search are
named, each is also compared with the first, seed by seed (the same seed gives both samplers the
same start-up trials): the mean difference of the hypervolume after 25, 40 and 60 trained
candidates with its standard error, as a fraction of random search's 100-trial hypervolume, and
the mean number of trials to reach that target with a seed that never reaches it counted as 61.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from bench import table
from bench.common import ROOT, quick, save
from bench.exact_ehvi import exact
from bench.pool import parallel_map
from bench.search_efficiency import Surrogate
from nas.arch.space_file import load_space
from nas.model.cost import estimate_cost
from nas.pareto import front_hypervolume, non_dominated
from nas.study.sampling.acquisition import optimize_discrete_acqf
from nas.study.sampling.ordinal_view import OrdinalView
from nas.study.sampling.samplers import ByStructureSampler, LeanGPSampler, SwitchingSampler, make_sampler

SEEDS = 5
RANDOM_TRIALS, GUIDED_TRIALS = 100, 60


class BoundedGPSampler(optuna.samplers.GPSampler):
    """GP fitted on the current front plus the ``recent`` latest trials only (a candidate: its
    fit stays bounded as the study grows; the acquisition search still costs what it costs)."""

    def __init__(self, recent: int = 40, **kw: Any) -> None:  # noqa: ANN401
        super().__init__(**kw)
        self.recent = recent

    def _sample_relative_impl(self, study, completed_trials, running_trials, search_space):  # noqa: ANN001, ANN202
        if len(completed_trials) > self.recent:
            values = np.array([t.values for t in completed_trials])  # (accuracy up, log10 FLOPs down)
            front = set(np.flatnonzero(non_dominated(values[:, 0], values[:, 1])))
            keep = front | set(range(len(completed_trials) - self.recent, len(completed_trials)))
            completed_trials = [completed_trials[i] for i in sorted(keep)]
        return super()._sample_relative_impl(study, completed_trials, running_trials, search_space)


def optuna_gp(seed: int) -> optuna.samplers.GPSampler:
    """GP as the search configured it before LeanGPSampler: Optuna's acquisition search."""
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=10, warn_independent_sampling=False)


class FourLocalSearchesGP(LeanGPSampler):
    """The default's smaller acquisition search with 4 local searches instead of 2."""

    LOCAL_SEARCHES = 4


class SmallestSearchGP(LeanGPSampler):
    """A yet smaller acquisition search: 256 points, one local search (from the best of them)."""

    PRELIMINARY_POINTS = 256
    LOCAL_SEARCHES = 1


class OptunasLocalSearchGP(LeanGPSampler):
    """The default before nas.study.sampling.acquisition: the same starts, Optuna's local search
    from them (and Optuna's own computation of the EHVI)."""

    def _optimize_acqf(self, acqf, best_params):  # noqa: ANN001, ANN202
        return optuna.samplers.GPSampler._optimize_acqf(self, acqf, best_params)


class OptunasEHVIGP(LeanGPSampler):
    """The default before nas.study.sampling.lean_ehvi: Optuna's own computation of the same EHVI values."""

    def ehvi(self, acqf):  # noqa: ANN001, ANN201
        return acqf


class ExactEHVIGP(LeanGPSampler):
    """The default with its two objectives' EHVI computed in closed form (bench.exact_ehvi)
    instead of estimated from 128 Sobol samples: a cheaper ask, more trials (not adopted,
    BENCHMARKS.md §12, fifth follow-up)."""

    def _optimize_acqf(self, acqf, best_params):  # noqa: ANN001, ANN202
        return super()._optimize_acqf(exact(acqf), best_params)


class FewerEHVISamplesGP(LeanGPSampler):
    """The default with its EHVI estimated from 32 Sobol samples instead of Optuna's 128."""

    def __init__(self, **kw: Any) -> None:  # noqa: ANN401
        super().__init__(**kw)
        assert hasattr(self, "_n_qmc_samples_ehvi"), "Optuna renamed GP's EHVI sample count"
        self._n_qmc_samples_ehvi = 32


class SteepestAscentGP(LeanGPSampler):
    """The default's acquisition search with steepest ascent: each move to the best of all
    one-coordinate neighbours, found in one evaluation, instead of a cycle over the coordinates
    (fewer evaluations still, other proposals; not adopted, BENCHMARKS.md §12)."""

    def _optimize_acqf(self, acqf, best_params):  # noqa: ANN001, ANN202
        return optimize_discrete_acqf(acqf, best_params, self._n_preliminary_samples, self._n_local_search,
                                      self._rng.rng, local_search=steepest_ascent)


def steepest_ascent(acqf: Any, xs: np.ndarray, fs: np.ndarray, dims: np.ndarray,  # noqa: ANN401
                    choices: list[np.ndarray], max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """From each row of ``xs`` (acquisition values ``fs``), move to the best of all points that
    differ in one coordinate while that improves: every neighbour of every active start in one
    evaluation, one evaluation per move."""
    xs, fs = xs.copy(), fs.copy()
    moves = [(dim, value) for dim, values in zip(dims, choices) if len(values) > 1 for value in values]
    if not moves:
        return xs, fs
    move_dims = np.array([d for d, _ in moves])
    move_values = np.array([v for _, v in moves])
    active = np.arange(len(xs))
    for _ in range(max_steps):
        neighbours = np.repeat(xs[active][:, None, :], len(moves), axis=1)  # (active, moves, dim)
        neighbours[:, np.arange(len(moves)), move_dims] = move_values
        scores = acqf.eval_acqf_no_grad(neighbours.reshape(-1, xs.shape[1])).reshape(len(active), len(moves))
        staying = np.isclose(xs[active][:, move_dims], move_values[None, :], rtol=0.0, atol=1e-12)
        scores[staying] = -np.inf
        pick = np.argmax(scores, axis=1)
        gain = scores[np.arange(len(active)), pick] > fs[active]
        moved = active[gain]
        xs[moved, move_dims[pick[gain]]] = move_values[pick[gain]]
        fs[moved] = scores[gain, pick[gain]]
        active = moved
        if active.size == 0:
            break
    return xs, fs


class InterleavedSampler(SwitchingSampler):
    """A portfolio: GP proposes the even trials, TPE the odd ones, each fitted on every result
    (issue 32's candidate for a default that does not lose where one of them does)."""

    def _for(self, study, trial):  # noqa: ANN001, ANN202
        if trial.number not in self._chosen:
            self._chosen[trial.number] = self.first if trial.number % 2 == 0 else self.then
        return self._chosen[trial.number]


class WinsorizedView(OrdinalView):
    """The samplers' view with the first objective (accuracy) raised to its lower quartile among
    the finished trials: degenerate networks that score near chance no longer stretch GP's scale
    (a candidate for the public table, where GP lost to random search)."""

    def _view(self, study):  # noqa: ANN001, ANN202
        done = [t.values[0] for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        floor = float(np.quantile(done, 0.25)) if len(done) >= 8 else -math.inf
        view = super()._view(study)
        translate = view._translate.trial

        class Floored:
            def trial(self, t):  # noqa: ANN001, ANN202
                t = translate(t)
                if t.values is None or t.values[0] >= floor:
                    return t
                import copy
                u = copy.copy(t)
                u._values = [floor, *t.values[1:]]  # noqa: SLF001 - a bench-only view
                return u
        view._translate = Floored()
        return view


def gp_variant(cls: type[LeanGPSampler]) -> Callable[[int], optuna.samplers.BaseSampler]:
    """A factory of ``cls`` (the default GP with one thing changed) as the default is made."""
    return lambda seed: cls(seed=seed, n_startup_trials=10, warn_independent_sampling=False)


CANDIDATES: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "random": lambda seed: make_sampler("random", seed),
    "auto (the default)": lambda seed: make_sampler("auto", seed),
    "gp, Optuna's acquisition search": optuna_gp,
    "gp (default: 2 local searches from 512 points)": lambda seed: make_sampler("gp", seed),
    "tpe (multivariate, as configured)": lambda seed: make_sampler("tpe", seed),
    "tpe (Optuna 5 MO defaults)": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "gp 25 trials, then tpe": lambda seed: SwitchingSampler(optuna_gp(seed), make_sampler("tpe", seed), 25),
    "gp, bounded history": lambda seed: BoundedGPSampler(seed=seed, n_startup_trials=10),
    "gp, 4 local searches from 512 points": gp_variant(FourLocalSearchesGP),
    "gp, 1 local search from 256 points": gp_variant(SmallestSearchGP),
    "gp, Optuna's local search from the default's starts": gp_variant(OptunasLocalSearchGP),
    "gp, steepest-ascent acquisition search": gp_variant(SteepestAscentGP),
    "gp, EHVI in closed form": gp_variant(ExactEHVIGP),
    "gp, EHVI estimated from 32 samples": gp_variant(FewerEHVISamplesGP),
    "gp, accuracy floored at its lower quartile": lambda seed: WinsorizedView(make_sampler("gp", seed).inner),
    "gp and tpe interleaved": lambda seed: OrdinalView(InterleavedSampler(
        make_sampler("gp", seed).inner, make_sampler("tpe", seed).inner, 0)),
    "gp where ordered, tpe where all categorical": lambda seed: OrdinalView(ByStructureSampler(
        make_sampler("gp", seed).inner, make_sampler("tpe", seed).inner)),
}


@dataclass
class Problem:
    """Proposes a candidate on a trial and scores it: (key, accuracy, FLOPs)."""

    name: str
    propose: Callable[[optuna.Trial], tuple[str, float, float]]
    reference: tuple[float, float]


def table_problem(name: str, space_name: str, dataset: str, ordinal: bool, n: int) -> Problem:
    space = load_space(space_name)
    genotypes = table.random_genotypes(n, space_name)
    rows = table.results(genotypes, (1.0,), dataset=dataset)[1.0]
    surrogate = Surrogate(rows)
    ref = (min(r["acc"] for r in rows), 1.1 * max(estimate_cost(g).flops for g in genotypes))

    def propose(trial: optuna.Trial) -> tuple[str, float, float]:
        g = space.sample(trial, 1, 10, "index" if ordinal else "categorical")
        return g.key(), surrogate.accuracy(g)[0], float(estimate_cost(g).flops)
    return Problem(name, propose, ref)


def synthetic_problem(tight: bool = False) -> Problem:
    """Six categorical choices of five options; accuracy = 0.6 + additive effects + pairwise
    interactions of neighbouring choices, squashed below 1; a fixed 12% of option pairs between
    neighbours make the network degenerate (accuracy 0.1, chance); FLOPs multiply per choice.
    ``tight``: the reference point's accuracy at the median of all 15,625 architectures (issue
    32) instead of chance."""
    rng = np.random.default_rng(2026)
    main = rng.normal(0, 0.04, (6, 5))
    pair = rng.normal(0, 0.03, (5, 5, 5))
    broken = rng.random((5, 5, 5)) < 0.12
    cost = np.exp(rng.normal(0, 0.5, (6, 5)))

    def score(x: tuple[int, ...]) -> float:
        if any(broken[i, x[i], x[i + 1]] for i in range(5)):
            return 0.1
        total = sum(main[i, x[i]] for i in range(6)) + sum(pair[i, x[i], x[i + 1]] for i in range(5))
        return 0.6 + 0.35 * math.tanh(4 * total)

    def propose(trial: optuna.Trial) -> tuple[str, float, float]:
        x = tuple(int(trial.suggest_categorical(f"c{i}", [str(k) for k in range(5)])) for i in range(6))
        flops = 1e6 * float(np.prod([cost[i, x[i]] for i in range(6)]))
        return "".join(map(str, x)), score(x), flops
    floor = float(np.median([score(x) for x in itertools.product(range(5), repeat=6)])) if tight else 0.1
    return Problem("synthetic 6x5 categorical" + (", tight reference" if tight else ""), propose,
                   (floor, 1e6 * float(np.prod(cost.max(1))) * 1.1))


# the shared public tables: ../shared/tables beside the checkout, or wherever NAS_SHARED_TABLES says
NB201 = Path(os.environ.get("NAS_SHARED_TABLES", ROOT.parent / "shared" / "tables")) / "nb201_imagenet16.csv"


def nb201_problem() -> Problem:
    """The public NAS-Bench-201 table (``../shared/tables``, its README): six edges, each one of
    five unordered operations, every one of the 15,625 cells scored by its published ImageNet16-120
    test accuracy after 200 epochs (no surrogate), FLOPs in closed form. Reference point tight in
    accuracy, as issue 32 asks: the table's median accuracy (random search saturates at 0%)."""
    import csv

    with open(NB201) as fh:
        rows = {r["edge_ops"]: (float(r["test_accuracy_200_epochs"]) / 100, float(r["flops_32px"]))
                for r in csv.DictReader(fh)}
    ops = sorted({op for key in rows for op in key.split("/")})
    accuracy = np.array([a for a, _ in rows.values()])

    def propose(trial: optuna.Trial) -> tuple[str, float, float]:
        key = "/".join(trial.suggest_categorical(f"edge{i}", ops) for i in range(6))
        return (key, *rows[key])
    return Problem("nb201/imagenet16, all categorical", propose,
                   (float(np.median(accuracy)), 1.1 * max(f for _, f in rows.values())))


def problems() -> list[Problem]:
    n = 40 if quick() else 150
    wanted = _option("--problems=", "")
    chosen = [p for p in ("mobile/mnist5k", "mobile/cluttered", "mixed/mnist5k", "mixed/mnist5k, all categorical",
                          "synthetic", "nb201") if not wanted or any(w and w in p for w in wanted.split(","))]
    makers = {"mobile/mnist5k": lambda: table_problem("mobile/mnist5k", "mobile", "mnist5k", True, n),
              "mobile/cluttered": lambda: table_problem("mobile/cluttered", "mobile", "cluttered", True, n),
              "mixed/mnist5k": lambda: table_problem("mixed/mnist5k", "mixed", "mnist5k", True, n),
              "mixed/mnist5k, all categorical": lambda: table_problem("mixed/mnist5k, all categorical", "mixed",
                                                                      "mnist5k", False, n),
              "synthetic": synthetic_problem, "nb201": nb201_problem}
    return [makers[name]() for name in chosen]


AHEAD = " + asked ahead"  # a candidate's name with this suffix: replayed as --overlap-sampling runs it
# ... with this suffix: asked ahead, but a proposal made before the last result is withdrawn and
# asked again once that result is known, where the result moved the front
RECHECKED = " + asked ahead, re-asked after a front gain"
# ... with this suffix and a number K: replayed as ``--group K`` runs it, K candidates in training at
# once, each new one proposed while the K - 1 others are running (results arrive in asking order)
GROUP = " + group of "


def group_of(candidate: str) -> int:
    """K of a candidate named with :data:`GROUP` (1 otherwise)."""
    return int(candidate.rpartition(GROUP)[2]) if GROUP in candidate else 1


def replay(problem: Problem, candidate: str, seed: int, trials: int) -> tuple[list[float], int]:
    """Hypervolume after each trained candidate (log10 FLOPs told, as the search does), and how
    many proposals were withdrawn. A candidate named with :data:`AHEAD` proposes each trial while
    the one before it is still running (its parameters known to the sampler, its result not), as
    sampling overlapped with training does; with :data:`RECHECKED`, a proposal made so is
    withdrawn (failed, which every sampler ignores) when the result it lacked raised the front's
    hypervolume, and the next trial is asked for with that result known; start-up trials, which
    are random, are never withdrawn. A duplicate is told at once, as the search reuses it
    without training."""
    group = group_of(candidate)
    if group > 1:
        return replay_group(problem, candidate.partition(GROUP)[0], seed, trials, group), 0
    mode = next((m for m in (RECHECKED, AHEAD) if candidate.endswith(m)), "")
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=CANDIDATES[candidate.removesuffix(mode)](seed))
    known: dict[str, list[float]] = {}
    acc: list[float] = []
    flops: list[float] = []
    curve: list[float] = []
    pending: tuple[optuna.Trial, str, float, float] | None = None
    withdrawn = 0
    modelled = 10  # trials told before the samplers here stop proposing at random (n_startup_trials)

    def finish(trial: optuna.Trial, key: str, a: float, f: float) -> bool:
        """Tell ``trial``; whether it raised the front's hypervolume."""
        gained = False
        if key not in known:
            known[key] = [a, math.log10(f)]
            acc.append(a)
            flops.append(f)
            curve.append(front_hypervolume(np.array(acc), np.array(flops), problem.reference))
            gained = len(curve) == 1 or curve[-1] > curve[-2]
        study.tell(trial, known[key])
        return gained

    asks = 0
    while len(curve) < trials and asks < 20 * trials:
        trial = study.ask()
        asks += 1
        by_model = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) >= modelled
        key, a, f = problem.propose(trial)
        if not mode or key in known:
            finish(trial, key, a, f)
            continue
        if pending is not None and finish(*pending) and mode == RECHECKED and by_model and len(curve) < trials:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # proposed without the gain
            withdrawn += 1
            pending = None
            continue
        pending = (trial, key, a, f)
    if pending is not None and len(curve) < trials:
        finish(*pending)
    return curve + [curve[-1]] * (trials - len(curve)), withdrawn  # a space exhausted: the front stays


def replay_group(problem: Problem, sampler: str, seed: int, trials: int, k: int) -> list[float]:
    """Hypervolume after each trained candidate when ``k`` train at once (``--group k``): every
    proposal is made with the ``k - 1`` before it still running; a duplicate is told at once."""
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=CANDIDATES[sampler](seed))
    known: dict[str, list[float]] = {}
    acc: list[float] = []
    flops: list[float] = []
    curve: list[float] = []
    running: list[tuple[optuna.Trial, str, float, float]] = []

    def finish(trial: optuna.Trial, key: str, a: float, f: float) -> None:
        if key not in known:
            known[key] = [a, math.log10(f)]
            acc.append(a)
            flops.append(f)
            curve.append(front_hypervolume(np.array(acc), np.array(flops), problem.reference))
        study.tell(trial, known[key])

    asks = 0
    while len(curve) + len(running) < trials and asks < 20 * trials:
        trial = study.ask()
        asks += 1
        key, a, f = problem.propose(trial)
        if key in known:
            finish(trial, key, a, f)
            continue
        running.append((trial, key, a, f))
        if len(running) == k:
            finish(*running.pop(0))
    while running:
        finish(*running.pop(0))
    return curve + [curve[-1]] * (trials - len(curve))


_problems: dict[str, Problem] = {}


def _job(job: tuple[str, str, int, int]) -> tuple[list[float], float, int]:
    name, candidate, seed, trials = job
    if not _problems:
        _problems.update({p.name: p for p in problems()})
    start = time.perf_counter()
    curve, withdrawn = replay(_problems[name], candidate, seed, trials)
    return curve, time.perf_counter() - start, withdrawn


def _option(name: str, default: str) -> str:
    return next((a.removeprefix(name) for a in sys.argv[1:] if a.startswith(name)), default)


def paired(curves: np.ndarray, baseline: np.ndarray, target: float) -> dict[str, Any]:
    """``curves`` against ``baseline`` seed by seed: the mean difference of the hypervolume after
    25, 40 and 60 trials (a fraction of ``target``) with its standard error, and the mean trials to
    reach ``target`` (a seed that never does counts as one past the replay's length)."""
    def reach(cv: np.ndarray) -> float:
        return float(np.argmax(cv >= target) + 1) if (cv >= target).any() else float(len(cv) + 1)
    out: dict[str, Any] = {"censored_mean_trials_to_target": float(np.mean([reach(c) for c in curves])),
                           "baseline_censored_mean_trials_to_target": float(np.mean([reach(c) for c in baseline]))}
    for m in (25, 40, 60):
        if m <= curves.shape[1]:
            diff = (curves[:, m - 1] - baseline[:, m - 1]) / target
            out[f"hv_diff_at_{m}"] = {"mean": float(diff.mean()), "se": float(diff.std(ddof=1) / math.sqrt(len(diff))),
                                      "better_seeds": int((diff > 0).sum()), "worse_seeds": int((diff < 0).sum())}
    return out


def main() -> None:
    """``python -m bench.sampler_choice [CANDIDATE ...] [--name=NAME] [--seeds=N]``: the named
    candidates only (random search always runs: it sets the target), saved as NAME
    (sampler_choice_subset)."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    saved_as = _option("--name=", "sampler_choice_subset")
    named = [c for c in args for m in (AHEAD, RECHECKED) if c.endswith(m) and c.removesuffix(m) in CANDIDATES]
    named += [c for c in args if GROUP in c and c.partition(GROUP)[0] in CANDIDATES]
    chosen = [c for c in CANDIDATES if c == "random" or not args or c in args] + named
    seeds = 2 if quick() else int(_option("--seeds=", str(SEEDS)))
    names = [p.name for p in problems()]  # trains any missing table rows first, in this process
    guided = 20 if quick() else int(_option("--guided=", str(GUIDED_TRIALS)))
    jobs = [(name, c, seed, RANDOM_TRIALS if c == "random" else guided)
            for name in names for c in chosen for seed in range(seeds)]
    # the slow GP replays first, so that the two processes finish together
    order = sorted(range(len(jobs)), key=lambda i: "gp" not in jobs[i][1])
    done = dict(zip(order, parallel_map(_job, [jobs[i] for i in order])))
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results[name] = {}
        mine = {c: [done[i] for i, j in enumerate(jobs) if j[0] == name and j[1] == c] for c in chosen}
        target = float(np.mean([r[0][-1] for r in mine["random"]]))
        print(f"\n{name}: random search's mean hypervolume at {RANDOM_TRIALS} trials {target:.4g}", flush=True)
        for c, runs in mine.items():
            curves = np.array([r[0] for r in runs])
            mean = curves.mean(0)
            per_seed = [int(np.argmax(cv >= target)) + 1 if (cv >= target).any() else None for cv in curves]
            reach = int(np.argmax(mean >= target)) + 1 if (mean >= target).any() else None
            row = {"trials_to_random_hv100_mean_curve": reach, "per_seed": per_seed,
                   "hv_at": {m: float(mean[m - 1]) for m in (10, 25, 35, 50, 60, 100) if m <= len(mean)},
                   "hv_at_end_sd_over_seeds": float(curves[:, -1].std(ddof=1)) if len(curves) > 1 else None,
                   "replay_s": float(np.mean([r[1] for r in runs])),
                   "withdrawn_per_trained": float(np.mean([r[2] for r in runs])) / len(mean)}
            results[name][c] = row
            marks = "  ".join(f"HV@{m} {v:.4g}" for m, v in row["hv_at"].items())
            redo = f"  withdrawn {row['withdrawn_per_trained']:.2f} per trained" if c.endswith(RECHECKED) else ""
            print(f"  {c:36s} trials to reach it: {reach or f'>{len(mean)}':>4} (per seed "
                  f"{', '.join(str(s or '-') for s in per_seed)})  {marks}{redo}", flush=True)
        guided_names = [c for c in chosen if c != "random"]
        for c in guided_names[1:]:
            base = np.array([r[0] for r in mine[guided_names[0]]])
            row = results[name][c]["paired_with_" + guided_names[0]] = paired(
                np.array([r[0] for r in mine[c]]), base, target)
            diffs = "  ".join(f"HV@{m} {d['mean']:+.4f}±{d['se']:.4f} ({d['better_seeds']} better, {d['worse_seeds']} worse)"
                              for m, d in ((k.removeprefix("hv_diff_at_"), v) for k, v in row.items() if k.startswith("hv_diff")))
            print(f"  {c} against {guided_names[0]}, seed by seed: trials to reach it {row['censored_mean_trials_to_target']:.1f} "
                  f"against {row['baseline_censored_mean_trials_to_target']:.1f} (unreached = {guided + 1}); {diffs}", flush=True)
    save("sampler_choice" if set(chosen) == set(CANDIDATES) else saved_as, {
        "candidates": chosen, "seeds": seeds, "random_trials": RANDOM_TRIALS, "guided_trials": guided,
        "results": results, "command": "python -m bench.sampler_choice " + " ".join(map(repr, sys.argv[1:]))})


if __name__ == "__main__":
    main()
