"""GP's acquisition search over a discrete space: Optuna's local search, the same moves, a
quarter of the acquisition evaluations.

Optuna's search (``optuna._gp.optim_mixed``) starts local searches from the best of a set of
random points and from a point of the current front, then improves each start one coordinate at
a time, trying all of that coordinate's values, until it comes back to the coordinate that last
moved it. It evaluates the acquisition function once per start and per coordinate, and an
evaluation of a few points costs ~0.25 ms whatever their number (a few hundred small tensor
operations): an ask on the mobile space made 130-153 of them. Here each round scores the other
values of the next few coordinates of every active start in one evaluation, and each start then
walks through those coordinates in Optuna's order until it moves (what was scored after the move
is out of date, and is scored again in the next round). The moves are Optuna's
(tests/test_acquisition.py compares both searches from the same starts, and the sampler's
proposals; the replays of BENCHMARKS.md §12 give the same trials); the evaluations fall to 27-34
an ask, the ask to x0.86 at 40 trials, and the demo's time outside the trainer from 7.4 to 6.0%
(§2).

Two differences from Optuna's search, neither met on our spaces: an integer choice with more than
16 values is searched over all its values (Optuna walks it with Brent's method, one point an
evaluation), and a space with a continuous parameter keeps Optuna's search (LeanGPSampler does
not call this there): a space file's choices are always suggested as indexes or categories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

LocalSearch = Callable[[Any, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], int], tuple[np.ndarray, np.ndarray]]
"""``(acqf, starts, their values, discrete dims, their values, max sweeps) -> (points, values)``."""

NO_CHANGE = -1
"""``last_moved`` of a start that no coordinate has moved yet."""

MOVED, STOPPED, PENDING = "moved", "stopped", "pending"

# Coordinates scored per round. Fewer rounds save the fixed cost of an evaluation (~0.25 ms);
# more coordinates a round waste the points scored after a move. Asks at 40 and 100 trials on
# the mobile space (scratch timing, 2 seeds, BENCHMARKS.md §2): 2-6 coordinates within noise
# of each other (38-53 ms), all of them a round 45-58 ms, Optuna's search 53-64 ms.
WINDOW = 4


def searchable(acqf: Any) -> bool:  # noqa: ANN401
    """Whether ``acqf`` is over a space of discrete parameters only and offers what this search
    reads (Optuna's private GP modules may change between releases)."""
    space = getattr(acqf, "search_space", None)
    needed = ("dim", "discrete_indices", "continuous_indices", "get_choices_of_discrete_params",
              "sample_normalized_params")
    return (callable(getattr(acqf, "eval_acqf_no_grad", None)) and all(hasattr(space, name) for name in needed)
            and len(space.continuous_indices) == 0)


def optimize_discrete_acqf(acqf: Any, warm_starts: np.ndarray | None, preliminary_points: int,  # noqa: ANN401
                           local_searches: int, rng: np.random.RandomState, max_sweeps: int = 100,
                           local_search: LocalSearch | None = None) -> np.ndarray:
    """The normalized parameters that maximize ``acqf`` (an ``optuna._gp.acqf`` acquisition
    function over a space of discrete parameters only).

    Starts as Optuna's ``optimize_acqf_mixed`` does, drawing the same random numbers: the best of
    ``preliminary_points`` random points, ``local_searches - 1 - len(warm_starts)`` more drawn
    from the rest in proportion to exp(acquisition), and ``warm_starts``."""
    space = acqf.search_space
    warm = np.empty((0, space.dim)) if warm_starts is None else warm_starts
    sampled = space.sample_normalized_params(preliminary_points, rng=rng)
    values = acqf.eval_acqf_no_grad(sampled)
    best = int(np.argmax(values))
    weights = np.exp(values - values[best])
    weights[best] = 0.0
    weights /= weights.sum()
    extra = min(local_searches - len(warm) - 1, int(np.count_nonzero(weights > 0.0)))
    chosen = np.array([best])
    if extra > 0:
        chosen = np.append(chosen, rng.choice(len(sampled), size=extra, replace=False, p=weights))
    starts = np.vstack([sampled[chosen], warm])
    search = local_search or coordinate_ascent
    xs, fs = search(acqf, starts, acqf.eval_acqf_no_grad(starts), space.discrete_indices,
                    space.get_choices_of_discrete_params(), max_sweeps)
    return xs[int(np.argmax(fs))]


def coordinate_ascent(acqf: Any, xs: np.ndarray, fs: np.ndarray, dims: np.ndarray,  # noqa: ANN401
                      choices: list[np.ndarray], max_sweeps: int, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Cyclic coordinate ascent from each row of ``xs`` (acquisition values ``fs``), as Optuna's
    local search runs it: the coordinates in turn, each moved to its best other value if that
    beats the current one; a start stops when it comes back to the coordinate that last moved
    it, or when a whole sweep moved nothing. The moves are the same; the evaluations are fewer:
    each round scores the other values of the next ``window`` coordinates of every active start
    in one evaluation, and each start walks through them until it moves (the scores after a move
    are out of date) or stops."""
    xs, fs = xs.copy(), fs.copy()
    cycle = [(int(dim), values) for dim, values in zip(dims, choices) if len(values) > 1]
    walks = [Walk(len(cycle)) for _ in range(len(xs))]
    active = [i for i in range(len(xs)) if cycle]
    while active:
        rows, owners = [], []  # (start, slot, value) of each scored point
        for i in active:
            for slot in walks[i].upcoming(window):
                dim, values = cycle[slot]
                # np.isclose(rtol=0, atol=1e-12)'s test without its ~10 us a call (~120 calls an ask)
                for value in values[np.abs(values - xs[i, dim]) > 1e-12]:
                    row = xs[i].copy()
                    row[dim] = value
                    rows.append(row)
                    owners.append((i, slot, value))
        scores = acqf.eval_acqf_no_grad(np.array(rows)) if rows else np.empty(0)
        best: dict[int, dict[int, tuple[float, float]]] = {i: {} for i in active}  # start -> slot -> (score, value)
        for (i, slot, value), score in zip(owners, scores):
            if slot not in best[i] or score > best[i][slot][0]:  # the first best value, as Optuna picks
                best[i][slot] = (float(score), value)
        still = []
        for i in active:
            status, slot = walks[i].walk({s: score for s, (score, _) in best[i].items()}, fs[i], max_sweeps)
            if status == MOVED:
                score, value = best[i][slot]
                xs[i, cycle[slot][0]], fs[i] = value, score
            if status != STOPPED:
                still.append(i)
        active = still
    return xs, fs


class Walk:
    """Where one start is in the cycle of coordinates (slots), and Optuna's rules for going on."""

    def __init__(self, slots: int) -> None:
        self.slots, self.position, self.last_moved, self.sweeps = slots, 0, NO_CHANGE, 0

    def upcoming(self, count: int) -> list[int]:
        """The next ``count`` slots the walk would visit without a move (fewer where it stops)."""
        out, position = [], self.position
        while len(out) < count:
            if position == self.slots:
                if self.last_moved == NO_CHANGE:
                    break
                position = 0
            if position == self.last_moved or position in out:
                break
            out.append(position)
            position += 1
        return out

    def walk(self, best_scores: dict[int, float], f: float, max_sweeps: int) -> tuple[str, int]:
        """Visit slots with the best scores of their other values in ``best_scores``, starting
        value ``f``: MOVED at a slot whose best beats ``f``, STOPPED (converged), or PENDING at a
        slot not scored yet."""
        while True:
            if self.position == self.slots:  # the end of a sweep
                if self.last_moved == NO_CHANGE or self.sweeps + 1 >= max_sweeps:
                    return STOPPED, -1
                self.sweeps += 1
                self.position = 0
            slot = self.position
            if self.last_moved == slot:  # a whole cycle since this slot moved it: converged
                return STOPPED, slot
            if slot not in best_scores:
                return PENDING, slot
            self.position = slot + 1
            if best_scores[slot] > f:
                self.last_moved = slot
                return MOVED, slot
