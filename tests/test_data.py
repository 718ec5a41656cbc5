import pickle

import numpy as np
import pytest
import torch

from nas import UserError
from nas.train.data import load_dataset, stratified_split


def test_mnist5k_is_the_embedded_real_sample():
    d = load_dataset("mnist5k", val_fraction=0.2, seed=0)
    assert len(d.y_train) == 4000 and len(d.y_val) == 1000
    assert d.x_train.dtype == torch.uint8 and d.x_train.shape[1:] == (1, 28, 28)
    assert d.num_classes == 10 and not d.flip
    # Stratified: every class keeps its share in validation.
    counts = torch.bincount(d.y_val, minlength=10)
    assert counts.min() >= 80 and counts.max() <= 130


def test_digits_and_split_is_seeded():
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.max() > 200
    assert torch.equal(a.y_val, b.y_val) and torch.equal(a.x_val, b.x_val)
    assert not torch.equal(a.x_val, c.x_val)


def test_stratified_split_keeps_class_proportions():
    y = np.array([0] * 50 + [1] * 150)
    tr, va = stratified_split(y, 0.2, seed=3)
    assert len(set(tr) & set(va)) == 0 and len(tr) + len(va) == 200
    assert (y[va] == 0).sum() == 10 and (y[va] == 1).sum() == 30


def test_resize_is_cached_and_keeps_dtype():
    d = load_dataset("digits")
    x16, v16 = d.at_resolution(16)
    assert x16.shape[-2:] == (16, 16) and x16.dtype == torch.uint8
    assert d.at_resolution(16)[0] is x16


def _cifar_folder(tmp_path, n_per_batch=20):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 3):
        data = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                b"labels": [j % 10 for j in range(n_per_batch)]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(data))
    return folder


def test_cifar10_python_folder(tmp_path):
    d = load_dataset(f"cifar10:{_cifar_folder(tmp_path)}")
    assert d.x_train.shape[1:] == (3, 32, 32) and d.flip and d.num_classes == 10
    assert len(d.y_train) + len(d.y_val) == 40


def test_image_folder(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "eel"):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.num_classes == 3 and d.x_train.shape[1:] == (3, 12, 12)


def test_npz_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((30, 10, 10), np.uint8), y=np.arange(30) % 3)
    d = load_dataset(f"npz:{path}")
    assert d.num_classes == 3 and d.x_train.shape[1:] == (1, 10, 10)


def test_bad_datasets_name_the_path_and_the_expectation(tmp_path):
    from PIL import Image
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(empty / "a" / "0.png")
    broken = tmp_path / "broken"
    for c in ("a", "b"):
        (broken / c).mkdir(parents=True)
        (broken / c / "x.png").write_bytes(b"not a png")
    mismatch = tmp_path / "m.npz"
    np.savez(mismatch, x=np.zeros((30, 4, 4), np.uint8), y=np.arange(29) % 2)
    out_of_range = tmp_path / "r.npz"
    np.savez(out_of_range, x=np.zeros((30, 4, 4), np.uint8), y=np.array([0, 5] * 15))
    cases = [
        ("imagenet", "unknown dataset"),
        (f"cifar10:{tmp_path / 'nope'}", "data_batch_1"),
        (f"folder:{tmp_path / 'nope'}", "image folder not found"),
        (f"folder:{empty}", "empty class folder"),
        (f"folder:{broken}", "unreadable image"),
        (f"npz:{mismatch}", "30 images but 29 labels"),
        (f"npz:{out_of_range}", "labels out of range"),
        (f"npz:{tmp_path / 'none.npz'}", "npz file not found"),
    ]
    for spec, message in cases:
        with pytest.raises(UserError, match=message):
            load_dataset(spec)
