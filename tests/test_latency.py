"""Measured latency (nas.model.latency): a settled median per runtime, threads restored, and one
clear message for a runtime that is not there."""

from __future__ import annotations

import pytest
import torch

from nas.arch.space_file import load_space
from nas.errors import UserError
from nas.model.latency import LatencySettings, measure_latency


@pytest.fixture(scope="module")
def small():  # noqa: ANN201
    return load_space("mobile").reference_genotypes(1, 10)[0]


@pytest.mark.parametrize("runtime", ["torch-cpu", "onnxruntime"])
def test_latency_is_a_settled_median_with_its_convention(small, runtime: str) -> None:  # noqa: ANN001
    threads = torch.get_num_threads()
    latency = measure_latency(small, LatencySettings(runtime=runtime, batch=2))
    assert latency.ms > 0 and latency.runs >= 2 * LatencySettings().block  # two blocks at least
    assert "batch 2" in latency.convention and "1 thread" in latency.convention and runtime in latency.convention
    assert torch.get_num_threads() == threads  # pinned for the measurement only


def test_a_larger_batch_takes_longer(small) -> None:  # noqa: ANN001
    one = measure_latency(small, LatencySettings(batch=1)).ms
    many = measure_latency(small, LatencySettings(batch=64)).ms
    assert many > 2 * one


def test_unavailable_runtimes_are_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="--latency-on 'tflite': allowed: "):
        LatencySettings(runtime="tflite").check()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="no CUDA device is available here"):
        LatencySettings(runtime="torch-cuda").check()
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(UserError, match=r"pip install 'nas-toolkit\[export\]'"):
        LatencySettings(runtime="onnxruntime").check()


def test_inspect_measures_latency_on_request() -> None:
    import json

    from conftest import run_cli

    code, out, err = run_cli("inspect", "--arch", "mobilenet_v2", "--resolution", "32", "--width-mult", "0.25",
                             "--json", "--latency-on", "torch-cpu", "--latency-batch", "2")
    assert code == 0, err
    info = json.loads(out)
    assert info["latency_ms"] > 0 and "batch 2" in info["latency_convention"]
    code, out, _ = run_cli("inspect", "--arch", "mobilenet_v2", "--resolution", "32", "--width-mult", "0.25")
    assert code == 0 and "latency" not in out  # measured only when asked for
