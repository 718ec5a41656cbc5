"""Everywhere a user can type something: one clear line, exit code 2, and the study untouched."""

import json

import numpy as np
import pytest
from PIL import Image

from nas import get_reference
from nas.arch.genotype import FORMAT_VERSION
from nas.results import load_study

from conftest import run_cli
from search_helpers import TINY_SPACE, FakeTrainer, config, search

STAGE = "  - {cells: [mb], kernels: [3], expansions: [2], repeats: [1], channels: [24, 32], stride: 2, activation: relu}"


def space_variant(old: str, new: str) -> str:
    assert old in TINY_SPACE
    return TINY_SPACE.replace(old, new, 1)


SPACES = {
    "syntax": "stages: [\n  - {cells: [mb]\n",
    "unknown_cell": space_variant("cells: [mb, fmb]", "cells: [mb, transformer]"),
    "channels_0": space_variant("channels: [16, 24]", "channels: [0, 24]"),
    "channels_neg": space_variant("channels: [16, 24]", "channels: [-8]"),
    "kernel_even": space_variant("kernels: [3, 5]", "kernels: [4]"),
    "kernel_0": space_variant("kernels: [3, 5]", "kernels: [0]"),
    "stride_3": space_variant("stride: 2, activation: relu}\n  - {cells: [mb, res]", "stride: 3, activation: relu}\n  - {cells: [mb, res]"),
    "empty_list": space_variant("expansions: [2, 4]", "expansions: []"),
    "se_big": space_variant("se_ratios: [0, 0.25]", "se_ratios: [0, 1.5]"),
    "se_neg": space_variant("se_ratios: [0, 0.25]", "se_ratios: [-0.1]"),
}
SPACE_MESSAGES = {
    "syntax": "YAML syntax error", "unknown_cell": "'transformer'", "channels_0": "bad value 0",
    "channels_neg": "bad value -8", "kernel_even": "bad value 4", "kernel_0": "bad value 0",
    "stride_3": "'stride' has bad value 3", "empty_list": "empty list", "se_big": "bad value 1.5",
    "se_neg": "bad value -0.1",
}


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A finished study 't' (fake trainer) plus bad files of every kind."""
    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=4), FakeTrainer(fail_every=3))
    for name, text in SPACES.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    (tmp_path / "missing_dir").mkdir()
    empty = tmp_path / "emptyclass"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(empty / "a" / "x.png")
    broken = tmp_path / "broken"
    for c in "ab":
        (broken / c).mkdir(parents=True)
        (broken / c / "x.png").write_bytes(b"\x89PNG garbage")
    np.savez(tmp_path / "range.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.array([0, 7] * 10))
    np.savez(tmp_path / "lens.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.arange(19) % 2)
    (tmp_path / "corrupt.json").write_text('{"stem": {"channels": 8')
    newer = get_reference("mobilenet_v2").to_dict()
    newer["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    hostile = get_reference("mobilenet_v2").to_dict()
    hostile["stages"][2]["channels"] = 2_000_000  # once reached the allocator: 96 TB
    (tmp_path / "hostile.json").write_text(json.dumps(hostile))
    huge_input = get_reference("mobilenet_v2").to_dict()
    huge_input["resolution"] = 100_000
    (tmp_path / "huge_input.json").write_text(json.dumps(huge_input))
    np.savez(tmp_path / "oneclass.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.zeros(20, np.int64))
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x07pytorch\xff\xfe")  # binary, not UTF-8
    return tmp_path


def snapshot(tmp_path):
    study = load_study("t", f"journal:{tmp_path / 'results/t/journal.log'}")
    return [(t.number, t.state, t.values, t.user_attrs, t.params) for t in study.trials], study.user_attrs


def cases(tmp_path):
    searching = ["search", "--study", "t", "--trials", "6", "--no-progress", "--dataset", "digits",
                 "--space", str(tmp_path / "tiny.yaml")]
    rows = [(["search", "--study", "t", "--trials", "6", "--no-progress", "--dataset", "digits",
              "--space", str(tmp_path / f"{name}.yaml")], SPACE_MESSAGES[name]) for name in SPACES]
    rows += [
        ([*searching, "--dataset", "cifar10:" + str(tmp_path / "missing_dir")], "data_batch_1"),
        ([*searching, "--dataset", "folder:" + str(tmp_path / "nowhere")], "image folder not found"),
        ([*searching, "--dataset", "folder:" + str(tmp_path / "emptyclass")], "empty class folder"),
        ([*searching, "--dataset", "folder:" + str(tmp_path / "broken")], "unreadable image"),
        ([*searching, "--dataset", "npz:" + str(tmp_path / "range.npz")], "labels out of range"),
        ([*searching, "--dataset", "npz:" + str(tmp_path / "lens.npz")], "20 images but 19 labels"),
        ([*searching, "--dataset", "svhn"], "unknown dataset"),
        ([*searching, "--flops-max", "10k"], "impossible"),
        ([*searching, "--params-max", "100"], "impossible"),
        ([*searching, "--flops-max", "ten"], "expected a number"),
        ([*searching, "--storage", "postgresql://nas:nas@127.0.0.1:1/none"], "cannot open storage"),
        ([*searching, "--storage", "sqlite:////no/such/dir/x.db"], "cannot open storage"),
        ([*searching, "--storage", "mysql//broken"], "not a storage URL"),
        ([*searching, "--storage", "journal:/no/such/dir/j.log"], "does not exist"),
        ([*searching, "--workers", "0"], "--workers must be >= 1"),
        ([*searching, "--storage-retry", "0"], "--storage-retry must be a positive number of seconds"),
        (["retrain", "--study", "t", "--storage-retry", "-5"], "--storage-retry must be a positive"),
        ([*searching, "--devices", "a,b"], "--devices"),
        (["pareto", "--study", "nope"], "study 'nope' not found"),
        (["export", "--study", "nope", "--out", "x"], "study 'nope' not found"),
        (["scale", "--study", "nope"], "study 'nope' not found"),
        (["export", "--study", "t", "--arch", "42", "--out", "x"], "trial 42 does not exist"),
        (["export", "--study", "t", "--arch", "2", "--out", "x"], "has no usable result (RuntimeError"),
        (["scale", "--study", "t", "--arch", "42"], "trial 42 does not exist"),
        (["scale", "--study", "t", "--arch", str(tmp_path / "corrupt.json")], "not valid JSON"),
        (["scale", "--study", "t", "--arch", str(tmp_path / "newer.json")], "format_version"),
        (["scale", "--study", "t", "--tolerance", "0"], "--tolerance must be in (0, 1)"),
        (["scale", "--study", "t", "--flops-factor", "1"], "--flops-factor must be > 1"),
        (["scale", "--study", "t", "--final-epochs", "0"], "--final-epochs must be positive"),
        (["scale", "--study", "t", "--compare-single", "--seeds", "0"], "--seeds must be >= 1"),
        (["scale", "--study", "t", "--seeds", "2"], "give --final-epochs E or --compare-single"),
        (["export", "--study", "t", "--scaled", "1", "--out", "x"], "has no scaling result"),
        (["inspect", "--arch", str(tmp_path / "corrupt.json")], "not valid JSON"),
        (["inspect", "--arch", str(tmp_path / "hostile.json")], "hostile.json: the model would have 120.00T parameters (largest: stage 2, mb_r3_k3_s2_e6_c2000000"),
        (["inspect", "--arch", str(tmp_path / "huge_input.json")], "FLOPs at 100000 px"),
        (["inspect", "--arch", "mobilenet_v2", "--width-mult", "100"], "as scaled and resized by the flags"),
        (["inspect", "--arch", "mobilenet_v2", "--max-params", "1M"], "above --max-params 1.00M;"),
        (["inspect", "--arch", "mobilenet_v2", "--max-params", "lots"], "--max-params 'lots'"),
        (["scale", "--study", "t", "--arch", str(tmp_path / "hostile.json")], "hostile.json: the model would have"),
        (["retrain", "--study", "t", "--arch", str(tmp_path / "hostile.json")], "hostile.json: the model would have"),
        (["export", "--study", "t", "--arch", "0", "--max-params", "100", "--out", "x"], "above --max-params 100;"),
        ([*searching, "--dataset", "npz:" + str(tmp_path / "oneclass.npz")], "one class"),
        (["search", "--study", "fresh", "--trials", "2", "--no-progress", "--dataset",
          "npz:" + str(tmp_path / "oneclass.npz")], "one class"),  # no results/fresh/ left behind
        (["inspect", "--arch", str(tmp_path / "newer.json")], "newer than this toolkit reads"),
        (["pareto", "--study", "t", "--storage", "postgresql://nas:nas@127.0.0.1:1/none"], "cannot open storage"),
        ([*searching, "--device", "tpu"], "--device 'tpu': allowed: auto, cpu, cuda, cuda:N"),
        (["export", "--study", "t", "--arch", "0", "--out", "x", "--format", "json,onnx"],
         "--format onnx needs trained weights: add --retrained"),
        (["export", "--study", "t", "--arch", "0", "--out", "x", "--format", "state_dict"], "needs trained weights"),
        (["inspect", "--arch", str(tmp_path / "missing_dir")], "a folder without genotype.json"),
        (["inspect", "--arch", str(tmp_path / "model.onnx")], "a binary file (a model or weights?), not a genotype"),
        (["search", "--study", "fresh", "--trials", "2", "--device", "cuda:x"], "--device 'cuda:x': allowed"),
        (["retrain", "--study", "t", "--device", "gpu"], "--device 'gpu': allowed"),
        (["export", "--study", "t", "--arch", "0", "--out", "x", "--device", "gpu"], "--device 'gpu': allowed"),
        (["calibrate", "--dataset", "digits", "--device", "gpu"], "--device 'gpu': allowed"),
    ]
    import torch

    if not torch.cuda.is_available():  # a device that is not there: before anything is written
        missing = "CPU only" if torch.version.cuda is None else "no CUDA GPU is visible"
        rows += [(["search", "--study", "fresh", "--trials", "2", "--device", "cuda"], missing),
                 ([*searching, "--device", "cuda:1"], missing),
                 (["scale", "--study", "t", "--device", "cuda"], missing),
                 (["retrain", "--study", "t", "--device", "cuda"], missing),
                 (["calibrate", "--dataset", "digits", "--device", "cuda"], missing),
                 (["export", "--study", "t", "--arch", "0", "--out", "x", "--device", "cuda"], missing)]
    return rows


def test_every_bad_input_gives_one_line_exit_2_and_changes_nothing(world):
    before = snapshot(world)
    failures = []
    for args, message in cases(world):
        code, out, err = run_cli(*args)
        if code != 2 or message not in err or err.count("\n") != 1 or "Traceback" in err:
            failures.append((args[:1] + args[-2:], code, err.strip()[:300]))
    assert not failures, "\n".join(map(str, failures))
    assert snapshot(world) == before


def test_size_limit_is_ten_efficientnet_b7_as_the_cost_model_counts_it():
    from nas.arch.limits import DEFAULT_MAX_PARAMS, EFFICIENTNET_B7_FLOPS, EFFICIENTNET_B7_PARAMS, MAX_FLOPS
    from nas.model.cost import estimate_cost

    b7 = estimate_cost(get_reference("efficientnet_b7"))
    assert (b7.params, b7.flops) == (EFFICIENTNET_B7_PARAMS, EFFICIENTNET_B7_FLOPS)
    assert (DEFAULT_MAX_PARAMS, MAX_FLOPS) == (10 * b7.params, 10 * b7.flops)


def test_load_exported_refuses_a_hostile_folder_before_building(tmp_path):
    from nas import UserError
    from nas.export import load_exported

    hostile = get_reference("mobilenet_v2").to_dict()
    hostile["stages"][2]["channels"] = 2_000_000
    (tmp_path / "genotype.json").write_text(json.dumps(hostile))
    with pytest.raises(UserError, match="genotype.json: the model would have"):
        load_exported(tmp_path)  # no weights.pt either: the size check comes first
