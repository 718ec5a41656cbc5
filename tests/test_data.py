import pickle

import numpy as np
import pytest
import torch

from nas import UserError
from nas.train.data import stratified_split
from nas.train.sources import load_dataset


def test_mnist5k_is_the_embedded_real_sample():
    d = load_dataset("mnist5k", val_fraction=0.2, seed=0)
    assert len(d.y_train) == 3200 and len(d.y_val) == 800 and d.n_test == 1000  # test carved first
    assert d.x_train.dtype == torch.uint8 and d.x_train.shape[1:] == (1, 28, 28)
    assert d.num_classes == 10 and not d.flip
    # Stratified: every class keeps its share in validation.
    counts = torch.bincount(d.y_val, minlength=10)
    assert counts.min() >= 64 and counts.max() <= 104


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
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        data = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                b"labels": [j % 10 for j in range(n_per_batch)]}
        (folder / name).write_bytes(pickle.dumps(data))
    return folder


def test_cifar10_python_folder(tmp_path):
    folder = _cifar_folder(tmp_path)
    d = load_dataset(f"cifar10:{folder}", with_test=True)
    assert d.x_train.shape[1:] == (3, 32, 32) and d.flip and d.num_classes == 10
    assert len(d.y_train) + len(d.y_val) == 40  # every training image: the test set is test_batch
    test = pickle.loads((folder / "test_batch").read_bytes())
    assert torch.equal(d.x_test.reshape(20, -1), torch.from_numpy(test[b"data"]))
    assert "test_batch" in d.test_split
    (folder / "test_batch").unlink()
    with pytest.raises(UserError, match="test_batch: missing"):
        load_dataset(f"cifar10:{folder}")


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


def unique_images(n: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """n images that differ from each other (image i holds i in its first two pixels)."""
    x = np.zeros((n, 6, 6), np.uint8)
    x[:, 0, 0], x[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    return x, np.arange(n) % classes


def keys(x: torch.Tensor) -> set[int]:
    return {int(a) + 256 * int(b) for a, b in zip(x[:, 0, 0, 0], x[:, 0, 0, 1])}


@pytest.mark.parametrize("seed", [0, 1])
def test_carved_test_split_is_held_out_stratified_and_the_same_for_every_seed(tmp_path, seed):
    x, y = unique_images(300)
    np.savez(tmp_path / "u.npz", x=x, y=y)
    d = load_dataset(f"npz:{tmp_path / 'u.npz'}", seed=seed, with_test=True)
    train, val, test = keys(d.x_train), keys(d.x_val), keys(d.x_test)
    assert not (train | val) & test and len(train | val | test) == 300
    assert len(test) == 60 and np.bincount(d.y_test.numpy()).tolist() == [20, 20, 20]
    reference = load_dataset(f"npz:{tmp_path / 'u.npz'}", seed=7, with_test=True)
    assert keys(reference.x_test) == test  # the split does not move with --seed
    assert d.test_split == reference.test_split and "carved 0.2" in d.test_split
    assert load_dataset(f"npz:{tmp_path / 'u.npz'}").x_test is None  # search never loads it


def test_npz_and_folder_take_their_own_test_set(tmp_path):
    from PIL import Image
    x, y = unique_images(40)
    np.savez(tmp_path / "t.npz", x=x, y=y, x_test=x[:9], y_test=y[:9])
    d = load_dataset(f"npz:{tmp_path / 't.npz'}", with_test=True)
    assert len(d.y_train) + len(d.y_val) == 40 and d.n_test == 9 and "x_test" in d.test_split
    np.savez(tmp_path / "half.npz", x=x, y=y, x_test=x[:9])
    with pytest.raises(UserError, match="both 'x_test' and 'y_test'"):
        load_dataset(f"npz:{tmp_path / 'half.npz'}")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 2)):
        for c in ("cat", "dog"):
            (tmp_path / "imgs" / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "imgs" / split / c / f"{i}.png")
    d = load_dataset(f"folder:{tmp_path / 'imgs'}", with_test=True)
    assert len(d.y_train) + len(d.y_val) == 12 and d.n_test == 4 and d.num_classes == 2
    final = d.for_final_training()
    assert len(final.y_train) == 12 and torch.equal(final.x_val, d.x_test)


def test_cluttered_is_deterministic_and_made_from_mnist():
    a, b = load_dataset("cluttered"), load_dataset("cluttered")
    assert torch.equal(a.x_train, b.x_train) and a.test_split == b.test_split
    assert a.x_train.shape[1:] == (1, 40, 40) and a.n_test == 1000 and a.num_classes == 10


def test_clutter_draws_the_whole_digit_among_fragments_of_other_digits():
    from nas.train.cluttered import ClutterSpec, clutter

    x = np.zeros((3, 28, 28), np.uint8)
    x[0, 5:20, 5:20], x[1, 2:10, 2:26], x[2, 10:27, 12:16] = 50, 120, 250  # distinct intensities
    spec = ClutterSpec(canvas=40, fragments=4, fragment_size=9, seed=3)
    out = clutter(x, spec)
    assert out.shape == (3, 40, 40) and np.array_equal(out, clutter(x, spec))
    for i in range(3):
        # the labelled digit is drawn whole (overlaps keep the brighter pixel): some 28x28 window
        # is at least the digit everywhere
        windows = [out[i, r:r + 28, c:c + 28] for r in range(13) for c in range(13)]
        assert any((w >= x[i]).all() for w in windows)
        others = {int(v) for j in range(3) if j != i for v in np.unique(x[j])}
        assert set(np.unique(out[i]).tolist()) <= others | {int(v) for v in np.unique(x[i])}


def test_pairs_is_deterministic_balanced_and_labels_which_side_is_larger():
    from nas.train.pairs import CANVAS, CROP, pairs

    a, b = load_dataset("pairs"), load_dataset("pairs")
    assert torch.equal(a.x_train, b.x_train) and a.test_split == b.test_split
    assert a.x_train.shape[1:] == (1, 40, 40) and a.num_classes == 2 and a.n_test == 1000
    share = float(a.y_train.float().mean())
    assert 0.4 < share < 0.6  # the sides are drawn at random: neither answer is a shortcut
    # small digits of known labels, each a distinct intensity: the label says which side is larger
    x = np.zeros((6, 28, 28), np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5])
    for i in range(6):
        x[i, 10:18, 10:18] = 40 * (i + 1)
    out, y = pairs(x, labels, seed=7)
    assert out.shape == (6, CANVAS, CANVAS) and np.array_equal(out, pairs(x, labels, seed=7)[0])
    for image, label in zip(out, y):
        left = {int(v) for v in np.unique(image[:, :CROP])} - {0}
        right = {int(v) for v in np.unique(image[:, CROP:])} - {0}
        assert len(left) == len(right) == 1  # one digit on each side, never the same one
        assert int(label) == int(left.pop() > right.pop())
