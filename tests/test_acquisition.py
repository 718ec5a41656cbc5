"""GP's acquisition search over discrete spaces (nas.study.sampling.acquisition): it finds what a local
search must find, makes one evaluation per coordinate per sweep, and inside the sampler proposes
what Optuna's own search proposes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nas.study.sampling.acquisition import coordinate_ascent, optimize_discrete_acqf


class Grid:
    """The part of Optuna's GP search space the search reads: discrete coordinates on [0, 1]."""

    def __init__(self, sizes: list[int]) -> None:
        self.values = [np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5]) for n in sizes]
        self.dim = len(sizes)
        self.discrete_indices = np.arange(self.dim)
        self.continuous_indices = np.array([], dtype=int)
        self.is_categorical = np.zeros(self.dim, dtype=bool)

    def get_choices_of_discrete_params(self) -> list[np.ndarray]:
        return self.values

    def sample_normalized_params(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        return np.stack([rng.choice(v, size=n) for v in self.values], axis=1)


class Acquisition:
    """A function on the grid, counting its evaluations (calls, points)."""

    def __init__(self, grid: Grid, function) -> None:  # noqa: ANN001
        self.search_space, self.function = grid, function
        self.length_scales = np.ones(grid.dim)
        self.calls = self.points = 0

    def eval_acqf_no_grad(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.points += len(x)
        return self.function(x)


def separable(x: np.ndarray) -> np.ndarray:
    return -np.sum((x - np.array([0.25, 1.0, 0.0, 0.5, 0.75])) ** 2, axis=1)


def one_flip_optimal(acqf: Acquisition, x: np.ndarray, fx: float) -> bool:
    for dim, values in enumerate(acqf.search_space.values):
        neighbours = np.repeat(x[None], len(values), axis=0)
        neighbours[:, dim] = values
        if acqf.function(neighbours).max() > fx + 1e-12:
            return False
    return True


def test_a_separable_function_is_maximized_from_any_start() -> None:
    grid = Grid([5, 3, 2, 3, 5])
    acqf = Acquisition(grid, separable)
    starts = grid.sample_normalized_params(4, np.random.RandomState(0))
    xs, fs = coordinate_ascent(acqf, starts, separable(starts), grid.discrete_indices, grid.values, 100)
    assert np.allclose(xs, [0.25, 1.0, 0.0, 0.5, 0.75]) and np.allclose(fs, 0.0)


def bumpy_function(grid: Grid, seed: int):  # noqa: ANN201
    """A random value per grid point: coordinates interact, and there are many local optima."""
    rng = np.random.RandomState(seed)
    table = {point: rng.normal() for point in itertools.product(*[range(len(v)) for v in grid.values])}

    def bumpy(x: np.ndarray) -> np.ndarray:
        index = [tuple(int(np.argmin(abs(v - xi))) for v, xi in zip(grid.values, row)) for row in x]
        return np.array([table[i] for i in index])

    return bumpy


def test_every_start_ends_where_no_single_coordinate_move_improves() -> None:
    grid = Grid([3, 4, 2, 3, 1, 3])
    bumpy = bumpy_function(grid, 1)
    acqf = Acquisition(grid, bumpy)
    starts = grid.sample_normalized_params(6, np.random.RandomState(1))
    xs, fs = coordinate_ascent(acqf, starts, bumpy(starts), grid.discrete_indices, grid.values, 100)
    assert np.all(fs >= bumpy(starts)) and np.allclose(fs, bumpy(xs))
    assert all(one_flip_optimal(acqf, x, f) for x, f in zip(xs, fs))


@pytest.mark.parametrize("seed", range(5))
def test_the_moves_are_optunas_local_search_moves_with_fewer_evaluations(seed: int) -> None:
    """Optuna's own local search (one evaluation per start and coordinate) from the same starts
    ends at the same points; this one needs at most one evaluation per move plus one."""
    from optuna._gp.optim_mixed import local_search_mixed_batched

    grid = Grid([3, 4, 2, 3, 1, 3, 5, 2])
    bumpy = bumpy_function(grid, seed)
    starts = grid.sample_normalized_params(4, np.random.RandomState(seed))
    optunas = Acquisition(grid, bumpy)
    expected, expected_values = local_search_mixed_batched(optunas, starts)
    ours = Acquisition(grid, bumpy)
    xs, fs = coordinate_ascent(ours, starts, bumpy(starts), grid.discrete_indices, grid.values, 100)
    assert np.array_equal(xs, expected) and np.array_equal(fs, expected_values)
    assert ours.calls < optunas.calls / 3


def test_coordinate_ascent_evaluates_once_per_coordinate_for_all_starts() -> None:
    """Optuna's search evaluates once per start and coordinate; this one batches the starts."""
    grid = Grid([5, 3, 2, 3, 5])
    acqf = Acquisition(grid, separable)
    starts = grid.sample_normalized_params(8, np.random.RandomState(2))
    coordinate_ascent(acqf, starts, separable(starts), grid.discrete_indices, grid.values, 100)
    assert acqf.calls <= 2 * grid.dim  # the first sweep reaches the optimum, the second confirms it


def test_the_starts_are_drawn_as_optunas_search_draws_them() -> None:
    """The best random point and the warm start (a front point) begin local searches; the
    answer is the best point any of them reaches."""
    grid = Grid([5, 3, 2, 3, 5])
    acqf = Acquisition(grid, separable)
    best = optimize_discrete_acqf(acqf, np.array([[0.0, 0.0, 1.0, 0.0, 0.0]]), 64, 2, np.random.RandomState(3))
    assert np.allclose(best, [0.25, 1.0, 0.0, 0.5, 0.75])
    assert acqf.points >= 64 + 2


def test_gp_with_the_coordinate_search_proposes_what_optunas_search_proposes(monkeypatch) -> None:  # noqa: ANN001
    """On spaces of categories and of integers with up to 16 values (Optuna walks larger ones
    with Brent's method instead of trying every value) the two searches reach the same points;
    without the local search, the random points alone propose others (so the comparison can fail)."""
    import hashlib

    import optuna

    from nas.study.sampling.samplers import LeanGPSampler

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        ints = [trial.suggest_int(f"i{k}", 0, 3) for k in range(3)]
        categories = [trial.suggest_categorical(f"c{k}", ["p", "q", "r"]) for k in range(2)]
        noise = int(hashlib.sha256(str(ints + categories).encode()).hexdigest()[:8], 16) / 16**8
        return 0.2 * sum(ints) + noise, sum(ints) + (categories[0] == "p")

    def proposals(kind: type[LeanGPSampler]) -> list[dict]:
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=kind(seed=5, n_startup_trials=10))
        study.optimize(objective, n_trials=16)
        return [t.params for t in study.trials]

    from bench.sampler_choice import OptunasLocalSearchGP

    optunas = proposals(OptunasLocalSearchGP)
    assert proposals(LeanGPSampler) == optunas
    from nas.study.sampling import acquisition

    monkeypatch.setattr(acquisition, "coordinate_ascent", lambda acqf, xs, fs, *rest: (xs, fs))
    assert proposals(LeanGPSampler) != optunas
