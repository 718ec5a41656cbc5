"""Datasets as uint8 tensors with a held-out test split and a seeded train/validation split.

Every dataset has a **test split that search never sees**: a sibling test set where the data has
one (CIFAR-10's ``test_batch``, ``folder:PATH`` with ``train/`` and ``test/``, ``npz`` arrays
``x_test``/``y_test``), otherwise a stratified fraction carved *before* the train/validation
split with a fixed seed (:data:`TEST_SPLIT_SEED`, not the search's ``--seed``: every study of a
dataset shares one test set). Search loads the dataset without the test tensors at all
(``with_test=False``); only final training (``retrain``) asks for them. How the split was made,
with a fingerprint of its images and labels, is :attr:`Dataset.test_split`, recorded in the
study so that every later command can check it scores on the same images.

Readers of each kind are in :mod:`nas.train.sources`. No downloads, ever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from .config import DEFAULT_TEST_FRACTION

TEST_SPLIT_SEED = 20_241_125  # fixed: the test split must not move with --seed


@dataclass
class Dataset:
    """Train/validation images (uint8, N x C x H x W) and labels (int64), and the test split."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    flip: bool  # horizontal flips are label-preserving (natural images, not digits)
    test_split: str = ""  # how the held-out test split was made, with its fingerprint
    n_test: int = 0
    x_test: torch.Tensor | None = None  # only when loaded with_test=True
    y_test: torch.Tensor | None = None
    scored_on: str = "val"  # what x_val holds: the validation split, or the test split (final training)
    class_names: tuple[str, ...] = ()  # what each output index means (an exported model's data config)
    _resized: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)
    # Device copies (nas.train.trainer.DeviceData) live and die with this object: a cache keyed
    # by id() could hand a new dataset, allocated at a freed one's address, the old tensors.
    device_cache: dict[tuple[int, str], object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.x_train.shape[2])

    def at_resolution(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(train, val) images resized to ``size`` once, then cached (bilinear, antialiased)."""
        if size not in self._resized:
            self._resized[size] = (resize(self.x_train, size), resize(self.x_val, size))
        return self._resized[size]

    def describe(self) -> str:
        held_out = f" (+{self.n_test} held-out test)" if self.scored_on == "val" else ""
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} {self.scored_on} images"
                f"{held_out}, {self.in_channels}x{self.resolution}x{self.resolution}, {self.num_classes} classes")

    def for_final_training(self) -> "Dataset":
        """Train on train + validation, score on the test split (the "validation" of this view)."""
        if self.x_test is None or self.y_test is None:
            raise ValueError("load the dataset with with_test=True for final training")
        return Dataset(f"{self.name} (train+val, scored on test)",
                       torch.cat([self.x_train, self.x_val]), torch.cat([self.y_train, self.y_val]),
                       self.x_test, self.y_test, self.num_classes, self.flip, self.test_split, self.n_test,
                       scored_on="test", class_names=self.class_names)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    out = []
    for chunk in x.split(4096):
        y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, split off): each class split in the same proportion, reproducibly."""
    rng = np.random.default_rng(seed)
    kept, taken = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n = int(round(len(idx) * fraction))
        taken.append(idx[:n])
        kept.append(idx[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(taken))


@dataclass
class Arrays:
    """What a reader returns: images (N,H,W[,C] or N,C,H,W) and labels, and a test set if the
    data has its own (``test_source`` says where it came from)."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    test_source: str = ""
    class_names: tuple[str, ...] | None = None  # what each label means, in label order (None: "0".."K-1")


def as_images(x: np.ndarray, y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate uint8 images (N,H,W[,C] or N,C,H,W) and integer labels; N x C x H x W out."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4:
        raise UserError(f"{source}: images must have shape N x H x W or N x H x W x C, got {x.shape}")
    if len(x) != len(y):
        raise UserError(f"{source}: {len(x)} images but {len(y)} labels; x and y must have equal length")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{source}: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(y) and y.min() < 0:
        raise UserError(f"{source}: labels out of range: found {int(y.min())}; labels must be 0..K-1")
    if x.dtype != np.uint8:
        if x.size and (x.min() < 0 or x.max() > 255):
            raise UserError(f"{source}: images must be uint8 (0..255), got {x.dtype} in "
                            f"[{x.min()}, {x.max()}]")
        x = x.round().astype(np.uint8)
    return np.ascontiguousarray(x), y.astype(np.int64)


def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """8 hex digits identifying a set of images and labels (to check a test split is the same)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:8]


def make_dataset(name: str, arrays: Arrays, flip: bool, val_fraction: float, seed: int, source: str,
                 test_fraction: float = DEFAULT_TEST_FRACTION, with_test: bool = False) -> Dataset:
    """Validate, take or carve the test split, then split the rest into train and validation."""
    x, y = as_images(arrays.x, arrays.y, source)
    if len(x) < 10:
        raise UserError(f"{source}: only {len(x)} images; need at least 10")
    num_classes = int(y.max()) + 1
    missing = sorted(set(range(num_classes)) - set(np.unique(y).tolist()))
    if missing:
        raise UserError(f"{source}: labels out of range: classes {missing[:5]} have no images; "
                        f"labels must be 0..K-1 with every class present")
    if num_classes < 2:
        raise UserError(f"{source}: every label is 0: one class; a classifier needs labels 0..K-1 "
                        f"with K >= 2")
    if arrays.x_test is not None and arrays.y_test is not None:
        x_test, y_test = as_images(arrays.x_test, arrays.y_test, f"{source} ({arrays.test_source})")
        if x_test.shape[1:] != x.shape[1:]:
            raise UserError(f"{source}: test images are {x_test.shape[1:]}, training images {x.shape[1:]}; "
                            f"they must have the same shape")
        if len(y_test) == 0 or y_test.max() >= num_classes:
            raise UserError(f"{source}: the test set ({arrays.test_source}) is empty or has labels "
                            f"outside 0..{num_classes - 1}")
        how = arrays.test_source
    else:
        if not 0 < test_fraction < 1:
            raise UserError(f"--test-fraction must be in (0, 1), got {test_fraction}")
        rest, test = stratified_split(y, test_fraction, TEST_SPLIT_SEED)
        x_test, y_test, x, y = x[test], y[test], x[rest], y[rest]
        how = f"carved {test_fraction:g} of the images (stratified, seed {TEST_SPLIT_SEED})"
    tr, va = stratified_split(y, val_fraction, seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return Dataset(name, xt[tr], yt[tr], xt[va], yt[va], num_classes, flip,
                   test_split=f"{how}: {len(y_test)} images, fingerprint {fingerprint(x_test, y_test)}",
                   n_test=len(y_test),
                   x_test=torch.from_numpy(x_test) if with_test else None,
                   y_test=torch.from_numpy(y_test) if with_test else None,
                   class_names=tuple(arrays.class_names) if arrays.class_names and len(arrays.class_names) == num_classes
                   else tuple(str(i) for i in range(num_classes)))
