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
