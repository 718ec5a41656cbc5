import json
import os
import pickle

import numpy as np
import pytest
import torch

from nas import Genotype, UserError, build_model
from nas.report.export import export_model, load_exported, load_weights, parse_formats

from conftest import run_cli
from search_helpers import FakeTrainer, config, search
from test_train import small_net


def test_every_format_round_trips_to_the_same_outputs(tmp_path):
    g = small_net()
    model = build_model(g)
    # Non-trivial BN statistics, so a wrong reload would show.
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 1, 16, 16) * 2 + 1)
    model.eval()
    report = export_model(g, model, tmp_path, card={"dataset": "x", "accuracy": 0.5, "command": "c"})
    assert set(report.files) == {"json", "model_py", "state_dict", "torchscript", "pt2", "onnx", "model_card"}
    assert all(v < 1e-4 for v in report.max_abs_diff.values()), report.max_abs_diff
    assert set(report.max_abs_diff) == {"state_dict", "torchscript", "pt2", "onnx", "model_py"}
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(load_exported(tmp_path)(x), expected)
        torch.testing.assert_close(torch.jit.load(str(tmp_path / "model.ts"))(x), expected)
        torch.testing.assert_close(torch.export.load(str(tmp_path / "model.pt2")).module()(x), expected)
    import onnxruntime as ort
    got = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"input": x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-4)
    assert Genotype.from_json((tmp_path / "genotype.json").read_text()) == g
    card = (tmp_path / "model_card.md").read_text()
    assert "1 multiply-add = 1 flop" in card and "weights_only" in card


def test_exported_json_works_with_inspect(tmp_path):
    export_model(small_net(), None, tmp_path)
    code, out, _ = run_cli("inspect", "--arch", str(tmp_path / "genotype.json"), "--json")
    assert code == 0 and json.loads(out)["arch"] == small_net().arch


class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "weights.pt"
    with open(path, "wb") as fh:
        pickle.dump({"stem.0.weight": Evil()}, fh)
    with pytest.raises(UserError, match="refused"):
        load_weights(small_net(), path)
    assert not (tmp_path / "PWNED").exists()
    torch.save({"not": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="do not fit"):
        load_weights(small_net(), path)


def test_parse_formats():
    assert parse_formats("json,onnx") == ("json", "onnx")
    with pytest.raises(UserError, match="allowed formats"):
        parse_formats("json,keras")


def test_cli_export_trains_and_writes_every_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=3), FakeTrainer())
    code, out, err = run_cli("export", "--study", "t", "--arch", "best", "--out", str(tmp_path / "exp"),
                             "--train-epochs", "1")  # the old spelling of --final-epochs still works
    assert code == 0, err
    assert "--train-epochs is now --final-epochs" in err
    for name in ("genotype.json", "arch.txt", "weights.pt", "model.ts", "model.onnx", "model_card.md"):
        assert (tmp_path / "exp" / name).exists(), name
    card = (tmp_path / "exp" / "model_card.md").read_text()
    assert "digits" in card and "after 1 epochs" in card
    model = load_exported(tmp_path / "exp")
    assert model(torch.zeros(1, 1, 16, 16)).shape == (1, 10)
    # Bad references are user errors.
    for args in (["--arch", "99"], ["--arch", "0", "--format", "pickle"], ["--scaled", "1"]):
        code, _, err = run_cli("export", "--study", "t", "--out", str(tmp_path / "e2"), *args)
        assert code == 2 and err.count("\n") == 1, err
    code, _, err = run_cli("export", "--study", "missing", "--out", str(tmp_path / "e3"))
    assert code == 2 and "not found" in err


def test_inspect_reads_what_export_wrote_the_folder_its_genotype_and_arch_txt(tmp_path, monkeypatch):
    """Every artefact of an export names the architecture for `inspect --arch`; without weights,
    export writes the genotype and says how to get the trained formats."""
    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=2), FakeTrainer())
    code, out, err = run_cli("export", "--study", "t", "--arch", "0", "--out", str(tmp_path / "e"))
    assert code == 0, err
    assert (tmp_path / "e/genotype.json").is_file() and not (tmp_path / "e/model.onnx").exists()
    expected = json.loads((tmp_path / "e/genotype.json").read_text())
    for arch in (tmp_path / "e", tmp_path / "e/genotype.json", tmp_path / "e/arch.txt"):
        code, out, err = run_cli("inspect", "--arch", str(arch), "--json")
        assert code == 0, (arch, err)
        assert json.loads(out)["key"] == Genotype.from_dict(expected).key()


def test_exported_onnx_and_torchscript_score_raw_images_as_the_model_card_says(tmp_path, monkeypatch):
    """Issue 33: an exported model carries its preprocessing. digits (8 x 8) searched at 16 px: the
    exported files take the raw uint8 validation images, resize and normalise them themselves,
    and score what the card says (the training run's validation accuracy) within 0.005."""
    import onnxruntime as ort

    from nas.export import load_data_config
    from nas.train.sources import load_dataset

    monkeypatch.chdir(tmp_path)
    search(config(tmp_path, trials=2), FakeTrainer())
    code, out, err = run_cli("export", "--study", "t", "--arch", "0", "--final-epochs", "2", "--device", "cpu",
                             "--out", str(tmp_path / "e"))
    assert code == 0, err
    card = (tmp_path / "e/model_card.md").read_text()
    accuracy = float(card.split("- Accuracy: ")[1].split()[0])
    cfg = load_data_config(tmp_path / "e")
    assert cfg.input_size == (8, 8) and cfg.resolution == 16 and cfg.class_names == tuple("0123456789")
    assert "Preprocessing: resize 8 x 8 -> 16 x 16" in card and "Outputs (logits, in this order): 0: 0" in card
    data = load_dataset("digits")  # the study's split (seed 0): the validation images, raw
    x, y = data.x_val.numpy(), data.y_val.numpy()
    assert x.dtype == np.uint8 and x.shape[2:] == (8, 8)
    session = ort.InferenceSession(str(tmp_path / "e/model.onnx"), providers=["CPUExecutionProvider"])
    onnx_accuracy = float((session.run(None, {"input": x})[0].argmax(1) == y).mean())
    with torch.no_grad():
        ts_accuracy = float((torch.jit.load(str(tmp_path / "e/model.ts"))(torch.from_numpy(x)).argmax(1).numpy()
                             == y).mean())
    with torch.no_grad():
        pt2_accuracy = float((torch.export.load(str(tmp_path / "e/model.pt2")).module()(torch.from_numpy(x))
                              .argmax(1).numpy() == y).mean())
        plain = _import_file(tmp_path / "e/model.py")
        net = plain.build().eval()
        net.load_state_dict(torch.load(tmp_path / "e/weights.pt", weights_only=True))
        py_accuracy = float((net(plain.preprocess(torch.from_numpy(x))).argmax(1).numpy() == y).mean())
    for got in (onnx_accuracy, ts_accuracy, pt2_accuracy, py_accuracy):
        assert abs(got - accuracy) <= 0.005, (got, accuracy)
    bare = load_exported(tmp_path / "e")  # the state_dict stays the bare network
    assert bare(torch.zeros(1, 1, 16, 16)).shape == (1, 10)
    assert bare.data_config == cfg  # load_exported says what its input must be
    written = json.loads((tmp_path / "e/genotype.json").read_text())
    assert written["data_config"]["class_names"] == list("0123456789")  # genotype.json carries it too
    assert Genotype.from_dict(written).key() == load_exported(tmp_path / "e").genotype.key()


def _import_file(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"plain_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stage", [
    "mb_r2_k3_s1_e1_c8_se0.25_nsw",   # no expansion, SE, identity skips
    "mb_r2_k5_s2_e6_c16_nre",         # expansion, stride, first block without shortcut
    "mb_r2_k3_s1_e4_c8_nre_noskip",
    "fmb_r2_k3_s1_e4_c8_se0.25_nsw",  # fused with expansion and SE
    "fmb_r2_k3_s2_e1_c16_se0.25_nhs",  # fused without expansion, SE, hardswish
    "res_r2_k3_s2_c16_nr6",           # projection shortcut, relu6
    "resb_r2_k3_s2_e4_c32_nre",
    "mb_r2_k3_s2_e4.5_c16_hse0.25_nhs",   # MobileNetV3's SE (hard-sigmoid), with a hidden head layer
    "fmb_r1_k3_s1_e1_c8_hse0.25_nre",
])
def test_model_py_imports_only_torch_and_matches_the_toolkit_bit_for_bit(tmp_path, stage):
    """Issue 33: ``model.py`` is plain PyTorch: its only imports are torch's, the exported
    state_dict loads into it, and in eval mode its outputs equal the toolkit model's exactly."""
    import ast

    from nas.arch.arch_string import parse_stage
    from nas import Head, Stem

    g = Genotype(stem=Stem(8, 3, 1, "relu", pool=stage.startswith("res")), stages=(parse_stage(stage),),
                 head=Head(0 if stage.startswith("res") else 16, "silu", 0.2, hidden=24 if "hse" in stage else 0),
                 resolution=16,
                 in_channels=3, num_classes=4, drop_path_rate=0.1)
    model = build_model(g)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 16, 16) * 2 + 1)  # BN statistics that are not the defaults
    model.eval()
    export_model(g, model, tmp_path, formats=("json", "model_py", "state_dict"))
    source = (tmp_path / "model.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"torch"}
    plain = _import_file(tmp_path / "model.py")
    net = plain.build()
    net.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))  # strict: same names
    net.eval()
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x), model(x))
    assert plain.ARCHITECTURE["arch"] == g.arch and plain.DATA is None
    with pytest.raises(ValueError, match="no data config"):
        plain.preprocess(torch.zeros(1, 3, 16, 16))


def test_the_search_records_its_data_config_and_export_needs_no_data_for_the_genotype(tmp_path, monkeypatch):
    """Issue 33: the data config (mean, std, raw size, class names) is recorded in the study at
    search time; exporting the genotype (json, model.py) then works where the data is gone."""
    from nas.study.store.records import StudyRecord
    from nas.study.store.storage import load_study
    from nas.train.sources import load_dataset
    from search_helpers import write_space

    monkeypatch.chdir(tmp_path)
    digits = load_dataset("digits")
    x = torch.cat([digits.x_train, digits.x_val]).numpy()[:, 0]
    y = torch.cat([digits.y_train, digits.y_val]).numpy()
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    code, _, err = run_cli("search", "--space", str(write_space(tmp_path)), "--dataset", f"npz:{tmp_path / 'mine.npz'}",
                           "--trials", "2", "--epochs", "0.2", "--study", "d", "--no-progress", "--sampler", "random")
    assert code == 0, err
    recorded = StudyRecord.from_study(load_study(None, "d")).data_config
    assert recorded is not None and recorded.input_size == (8, 8) and recorded.resolution == 16
    assert len(recorded.mean) == 1 and 0 < recorded.mean[0] < 1 and len(recorded.class_names) == 10
    (tmp_path / "mine.npz").unlink()  # the data is gone
    code, out, err = run_cli("export", "--study", "d", "--arch", "0", "--out", str(tmp_path / "e"))
    assert code == 0, err
    assert json.loads((tmp_path / "e/data_config.json").read_text())["mean"] == list(recorded.mean)
    assert (tmp_path / "e/model.py").is_file() and not (tmp_path / "e/weights.pt").exists()
    code, _, err = run_cli("export", "--study", "d", "--arch", "0", "--final-epochs", "1", "--out", str(tmp_path / "f"))
    assert code == 2 and "mine.npz" in err and not (tmp_path / "f").exists()  # training needs the data
