"""Export a chosen architecture so that it can be rebuilt, trained and deployed without searching.

Written files: ``genotype.json`` (rebuilds the exact model with :func:`nas.build_model`; also
accepted by ``inspect --arch``), ``arch.txt``, ``model_card.md``, and with training
``weights.pt`` (a plain ``state_dict``, loadable with ``torch.load(weights_only=True)``),
``model.ts`` (TorchScript), ``model.pt2`` (``torch.export``, TorchScript's successor) and
``model.onnx``; ``model.py`` is plain PyTorch source for the architecture (needs only torch). Every file is reloaded after writing and its
outputs compared with the original model's on a batch.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..arch.limits import DEFAULT_MAX_PARAMS
from ..model.builder import build_model
from ..model.limits import check_size
from ..model.cost import FLOPS_CONVENTION, estimate_cost
from ..errors import UserError, allowed
from ..arch.genotype import Genotype
from ..model.preprocess import Preprocess
from ..train.data_config import DataConfig

FORMATS = ("json", "model_py", "state_dict", "torchscript", "pt2", "onnx")
TRAINED_FORMATS = ("state_dict", "torchscript", "pt2", "onnx")


@dataclass
class ExportReport:
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    preprocessing: bool = False  # model.ts / model.onnx take raw uint8 images (data_config.json)


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise UserError(f"--format {text!r}: allowed formats: {allowed(FORMATS)}")
    return formats


def load_weights(genotype: Genotype, path: str | Path) -> nn.Module:
    """Rebuild the model and load its weights without executing any code from the file."""
    model = build_model(genotype)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{path}: refused: not a plain tensor state_dict "
                        f"(weights_only loading rejected it: {str(exc).splitlines()[0]})") from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise UserError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state_dict, got {type(state).__name__}")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"{path}: weights do not fit this genotype ({str(exc).splitlines()[0]})") from None
    return model.eval()


def load_data_config(directory: str | Path) -> DataConfig | None:
    """An export folder's ``data_config.json`` (what the model expects of its input), or None
    where it has none (exported without data, or before data configs existed)."""
    import json

    path = Path(directory) / "data_config.json"
    if not path.is_file():
        return None
    try:
        return DataConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: not a data config ({exc})") from None


def load_exported(directory: str | Path, max_params: float = DEFAULT_MAX_PARAMS) -> nn.Module:
    """``genotype.json`` + ``weights.pt`` from an export folder, as an eval-mode model, with
    ``model.data_config`` (a :class:`DataConfig`, or None where the export has none): what its
    input must be. The genotype is checked against ``max_params`` before the model is built
    (the folder is input)."""
    d = Path(directory)
    g = Genotype.from_json((d / "genotype.json").read_text(), source=str(d / "genotype.json"))
    check_size(g, str(d / "genotype.json"), max_params)
    model = load_weights(g, d / "weights.pt")
    model.data_config = load_data_config(d)
    return model


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def export_model(genotype: Genotype, model: nn.Module | None, out_dir: str | Path,
                 formats: tuple[str, ...] = FORMATS, card: dict[str, object] | None = None,
                 tolerance: float = 1e-4, data: DataConfig | None = None,
                 include_preprocessing: bool = True) -> ExportReport:
    """Write ``genotype`` (and ``model``'s weights when given) in ``formats``; verify each file.

    ``data`` (what the weights were trained on expects: nas.train.data_config) is written as
    ``data_config.json`` and into the model card; with ``include_preprocessing`` the TorchScript
    and ONNX models take raw uint8 images at the data's size and normalise them as training did
    (:class:`nas.model.preprocess.Preprocess`), so that a deployment needs nothing else. On by
    default: on the demo's test images, an exported network fed raw pixels scored 0.19 instead of
    the model card's 0.65 (issue 33). ``weights.pt`` stays the bare network's state_dict.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(out)
    import json

    written = genotype.to_dict() | ({"data_config": data.to_dict()} if data is not None else {})
    (out / "genotype.json").write_text(json.dumps(written, indent=2, sort_keys=True) + "\n")
    if data is not None:
        (out / "data_config.json").write_text(json.dumps(data.to_dict(), indent=2) + "\n")
        report.files["data_config"] = out / "data_config.json"
    (out / "arch.txt").write_text(genotype.arch + "\n")
    report.files["json"] = out / "genotype.json"
    rebuilt = Genotype.from_json((out / "genotype.json").read_text())
    if rebuilt != genotype:
        raise RuntimeError("genotype.json did not round-trip")  # a bug, never a user error
    if "model_py" in formats:
        from .plain_source import plain_source

        (out / "model.py").write_text(plain_source(genotype, data))
        report.files["model_py"] = out / "model.py"
    if model is not None:
        model = model.to("cpu", memory_format=torch.contiguous_format).float().eval()
        x = torch.randn(4, genotype.in_channels, genotype.resolution, genotype.resolution,
                        generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = model(x)
        if "state_dict" in formats:
            path = out / "weights.pt"
            torch.save(model.state_dict(), path)
            with torch.no_grad():
                report.max_abs_diff["state_dict"] = _diff(load_weights(genotype, path)(x), expected)
            report.files["state_dict"] = path
        deployed, raw = model, x
        if data is not None and include_preprocessing:  # raw uint8 images in
            deployed = nn.Sequential(Preprocess(data.mean, data.std, data.input_size, data.resolution), model).eval()
            raw = torch.randint(0, 256, (4, data.channels, *data.input_size), dtype=torch.uint8,
                                generator=torch.Generator().manual_seed(0))
            report.preprocessing = True
        with torch.no_grad():
            deployed_expected = deployed(raw)
        if "torchscript" in formats:
            path = out / "model.ts"
            torch.jit.save(torch.jit.script(deployed), str(path))
            with torch.no_grad():
                report.max_abs_diff["torchscript"] = _diff(torch.jit.load(str(path))(raw), deployed_expected)
            report.files["torchscript"] = path
        if "pt2" in formats:
            _export_pt2(deployed, raw, deployed_expected, out / "model.pt2", report)
        if "onnx" in formats:
            _export_onnx(deployed, raw, deployed_expected, out / "model.onnx", report)
        if "model_py" in formats:
            report.max_abs_diff["model_py"] = _check_plain_source(out / "model.py", model, x)
        bad = {k: v for k, v in report.max_abs_diff.items() if not v <= tolerance}
        if bad:
            raise RuntimeError(f"exported files disagree with the model: {bad}")
    else:
        for f in formats:
            if f in TRAINED_FORMATS:
                report.skipped[f] = "needs trained weights: pass --retrained or --final-epochs"
    if card is not None:
        (out / "model_card.md").write_text(model_card(genotype, card, report))
        report.files["model_card"] = out / "model_card.md"
    return report


def _export_pt2(model: nn.Module, x: torch.Tensor, expected: torch.Tensor, path: Path,
                report: ExportReport) -> None:
    """``torch.export``'s program (TorchScript's successor), batch size dynamic; reloaded with
    ``torch.export.load`` (weights read with weights_only) and compared."""
    import warnings

    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(path))
        with torch.no_grad():
            report.max_abs_diff["pt2"] = _diff(torch.export.load(str(path)).module()(x), expected)
    report.files["pt2"] = path


def _check_plain_source(path: Path, model: nn.Module, x: torch.Tensor) -> float:
    """Load the written ``model.py`` as a module of its own, give it the model's weights, and
    compare: it must be the same network (0.0 expected: the same modules in the same order)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"nas_exported_model_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)  # our own file, written a moment ago
    net = plain.build()
    net.load_state_dict(model.state_dict())
    with torch.no_grad():
        return _diff(net.eval()(x), model(x))


def _export_onnx(model: nn.Module, x: torch.Tensor, expected: torch.Tensor, path: Path,
                 report: ExportReport) -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        report.skipped["onnx"] = "the onnx package is not installed (pip install 'nas-toolkit[export]')"
        return
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript-based exporter: the torch.export one needs onnxscript as well.
        torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    report.files["onnx"] = path
    try:
        import onnxruntime as ort
    except ImportError:
        report.skipped["onnx check"] = "onnxruntime not installed: file written, not verified"
        return
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    report.max_abs_diff["onnx"] = _diff(torch.from_numpy(got), expected)


def _data_lines(data: object, report: ExportReport) -> list[str]:
    """The model card's lines on what the input must be (nas.train.data_config)."""
    if not isinstance(data, DataConfig):
        return []
    h, w = data.input_size
    mean = ", ".join(f"{m:.4f}" for m in data.mean)
    std = ", ".join(f"{s:.4f}" for s in data.std)
    names = ", ".join(f"{i}: {n}" for i, n in enumerate(data.class_names))
    deployed = (f"`model.ts` and `model.onnx` take raw uint8 images, {data.channels} x {h} x {w}, and do the rest"
                if report.preprocessing else "the exported network takes the normalised input")
    return [f"- Preprocessing: resize {h} x {w} -> {data.resolution} x {data.resolution} ({data.resize}); "
            f"then x / 255, minus mean ({mean}), over std ({std}), per channel; statistics of "
            f"{data.trained_on or 'the training images'}. {deployed} (`data_config.json`)",
            f"- Outputs (logits, in this order): {names}"]


def model_card(genotype: Genotype, info: dict[str, object], report: ExportReport) -> str:
    cost = estimate_cost(genotype)
    lines = [f"# Model card: {info.get('title', 'exported architecture')}", "",
             f"- Dataset: {info.get('dataset', 'unknown')}",
             f"- Accuracy: {info.get('accuracy', 'not measured')}",
             f"- Parameters: {cost.params:,}",
             f"- FLOPs: {cost.flops:,} ({FLOPS_CONVENTION}, {genotype.resolution} px input)",
             f"- Latency: {info.get('latency', 'not measured (export --latency-on RUNTIME measures it)')}",
             f"- Input: {genotype.in_channels} x {genotype.resolution} x {genotype.resolution}, "
             f"{genotype.num_classes} classes",
             *_data_lines(info.get("data"), report),
             f"- Source: {info.get('source', '')}",
             f"- Command: `{info.get('command', '')}`", "",
             "## Architecture", "", f"`{genotype.arch}`", "",
             "## Files", ""]
    for name, path in report.files.items():
        check = f" (reloaded; max |diff| {report.max_abs_diff[name]:.2e})" if name in report.max_abs_diff else ""
        lines.append(f"- `{path.name}`: {name}{check}")
    for name, why in report.skipped.items():
        lines.append(f"- {name}: not written ({why})")
    lines += ["", "## Loading", "", "```python",
              "import nas.export", f"model = nas.export.load_exported({str(report.out_dir)!r})",
              "```", "", "`genotype.json` is plain data and `weights.pt` is a plain state_dict: "
              "loading executes no code from these files (`torch.load(weights_only=True)`)."]
    if "model_py" in report.files:
        lines += ["", "Without this toolkit, `model.py` (plain PyTorch, imports only torch) builds the same network:",
                  "", "```python", "import torch, model", "net = model.build().eval()",
                  'net.load_state_dict(torch.load("weights.pt", weights_only=True))',
                  "logits = net(model.preprocess(images))  # raw pixels, N x C x H x W" if report.preprocessing
                  or "data_config" in report.files else "logits = net(x)  # the normalised input", "```"]
    if "pt2" in report.files:
        lines += ["", "`model.pt2`: `torch.export.load(\"model.pt2\").module()(images)`."]
    lines.append("")
    return "\n".join(lines)
