"""Non-domination and hypervolume of (accuracy, FLOPs) points: what a study optimises.

Plain numpy on arrays, so the loop's progress line and the report's frames share one definition.
"""

from __future__ import annotations

import numpy as np


def non_dominated(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats (accuracy >= and FLOPs <=, one strictly)."""
    order = np.lexsort((-acc, flops))  # by FLOPs ascending, then accuracy descending
    mask = np.zeros(len(acc), dtype=bool)
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


def front_hypervolume(acc: np.ndarray, flops: np.ndarray, reference: tuple[float, float]) -> float:
    """Hypervolume of any set of (accuracy, FLOPs) points (dominated ones add nothing)."""
    acc_ref, flops_ref = reference
    mask = non_dominated(acc, flops)
    pts = sorted((f, a) for f, a, m in zip(flops, acc, mask) if m and f < flops_ref and a > acc_ref)
    area = 0.0
    for i, (f, a) in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else flops_ref
        area += (a - acc_ref) * (nxt - f)
    return area


def front_ranks(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """Non-dominated sorting: 0 for the Pareto front, 1 for the front of what remains, ..."""
    ranks = np.full(len(acc), -1)
    left = np.arange(len(acc))
    rank = 0
    while len(left):
        mask = non_dominated(acc[left], flops[left])
        ranks[left[mask]] = rank
        left = left[~mask]
        rank += 1
    return ranks


def crowding_distance(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance within one front, on accuracy and log10(FLOPs) each scaled by its
    range: the ends of the front get infinity, so that keeping the most crowded-out points keeps
    the front spread."""
    n = len(acc)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for values in (acc.astype(float), np.log10(np.maximum(flops.astype(float), 1.0))):
        order = np.argsort(values, kind="stable")
        span = values[order[-1]] - values[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[order[2:]] - values[order[:-2]]) / span
    return distance


def promotion_order(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """Indices of the points best first: by non-dominated rank, then by crowding distance within
    the rank (spread first), then by accuracy, then by position (earlier first)."""
    ranks = front_ranks(acc, flops)
    crowd = np.zeros(len(acc))
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        crowd[members] = crowding_distance(acc[members], flops[members])
    return np.array(sorted(range(len(acc)), key=lambda i: (ranks[i], -crowd[i], -acc[i], i)), dtype=int)
