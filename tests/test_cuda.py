"""The CUDA path on a real GPU (every test skips without one): several workers sharing one GPU,
a real CUDA out-of-memory error recorded as a failed trial while the search goes on, bf16 autocast
learning as fp32 does, latency measured on the GPU, and a model trained there exported for the CPU.
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace

import optuna
import pytest
import torch

from conftest import ROOT, requires_cuda, run_cli
from search_helpers import config, write_space
from nas.arch.space_file import load_space
from nas.model.latency import LatencySettings, measure_latency
from nas.study.store.records import TrialRecord
from nas.study.search import run_search
from nas.study.store.storage import open_storage
from nas.train.sources import load_dataset
from nas.train.trainer import TrainConfig, train_candidate

pytestmark = requires_cuda


def records(study: optuna.Study) -> list[TrialRecord]:
    return [TrialRecord.from_trial(t) for t in sorted(study.trials, key=lambda t: t.number)]


def test_two_workers_share_one_gpu_and_what_they_found_exports_for_the_cpu(tmp_path):
    command = [sys.executable, str(ROOT / "run_search.py"), "search", "--space", str(write_space(tmp_path)),
               "--dataset", "digits", "--trials", "8", "--epochs", "1", "--study", "g", "--no-progress",
               "--sampler", "random", "--device", "cuda:0", "--workers-per-device", "2"]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    url = f"journal:{tmp_path / 'results' / 'g' / 'journal.log'}"
    study = optuna.load_study(study_name="g", storage=open_storage(url, "g"))
    trained = [r for r in records(study) if r.trained]
    assert trained and all(r.device == "cuda:0" for r in trained)
    assert all(r.accuracy is not None and r.accuracy > 0.2 for r in trained)  # chance is 0.1
    pids = {t.system_attrs["nas:heartbeat"]["pid"] for t in study.trials if "nas:heartbeat" in t.system_attrs}
    assert len(pids) == 2  # two processes on one GPU

    code, _, err = run_cli("export", "--study", "g", "--storage", url, "--out", str(tmp_path / "export"),
                           "--final-epochs", "1", "--device", "cuda:0", "--format", "json,state_dict")
    assert code == 0, err
    state = torch.load(tmp_path / "export" / "weights.pt", weights_only=True)
    assert state and all(t.device.type == "cpu" and t.dtype != torch.bfloat16 for t in state.values())


def test_a_real_cuda_out_of_memory_is_a_failed_trial_and_the_next_candidate_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls: list[object] = []

    def trainer(genotype, data, cfg, device, report=None, keep_model=False):  # noqa: ANN001, ANN202
        calls.append(device)
        if len(calls) == 2:  # 32 TiB: the CUDA caching allocator refuses it
            torch.empty(1 << 45, dtype=torch.uint8, device=device)
        return train_candidate(genotype, data, cfg, device, report, keep_model)

    cfg = config(tmp_path, trials=4, device="cuda", train=TrainConfig(epochs=2), write_files=False)
    study = run_search(cfg, out=io.StringIO(), trainer=trainer)
    found = records(study)
    failed = [r for r in found if r.fail_reason]
    assert len(failed) == 1 and failed[0].fail_reason.startswith("CUDA out of memory"), [r.fail_reason for r in found]
    after = [r for r in found[found.index(failed[0]) + 1:] if r.trained]
    assert after and all(r.device.startswith("cuda") and r.accuracy > 0.2 for r in after)


def test_bf16_autocast_learns_as_well_as_fp32_with_fp32_channels_last_weights() -> None:
    digits = load_dataset("digits")
    g = load_space("mobile").reference_genotypes(digits.in_channels, digits.num_classes)[0]
    g = replace(g, resolution=16)
    bf16 = train_candidate(g, digits, TrainConfig(epochs=3), "cuda", keep_model=True)
    fp32 = train_candidate(g, digits, TrainConfig(epochs=3, bf16=False), "cuda")
    assert bf16.val_accuracy > 0.8 and abs(bf16.val_accuracy - fp32.val_accuracy) < 0.05
    weights = next(p for p in bf16.model.parameters() if p.ndim == 4)
    assert weights.dtype == torch.float32 and weights.is_contiguous(memory_format=torch.channels_last)


def test_latency_on_the_gpu_is_a_settled_median_with_its_convention() -> None:
    g = load_space("mobile").reference_genotypes(1, 10)[0]
    one = measure_latency(g, LatencySettings(runtime="torch-cuda", batch=1))
    assert one.ms > 0 and "torch-cuda" in one.convention and "batch 1" in one.convention


@pytest.mark.parametrize("share", [0.5])
def test_a_worker_capped_at_its_share_cannot_take_more(share: float) -> None:
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(share, 0)
    try:
        with pytest.raises(torch.cuda.OutOfMemoryError):
            torch.empty(int(total * share) + (1 << 30), dtype=torch.uint8, device="cuda:0")
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
        torch.cuda.empty_cache()


def test_captured_steps_are_replayed_after_the_warmup_and_learn_as_eager_steps_do(monkeypatch) -> None:
    from nas.train import cuda_graph
    from nas.train.device_data import DeviceData

    replays: list[int] = []
    real = cuda_graph.GraphedStep.__call__

    def counted(self, *args):  # noqa: ANN001, ANN002, ANN202
        replays.append(1)
        return real(self, *args)

    monkeypatch.setattr(cuda_graph.GraphedStep, "__call__", counted)
    digits = load_dataset("digits")
    g = replace(load_space("mobile").reference_genotypes(digits.in_channels, digits.num_classes)[0], resolution=16)
    graphed = train_candidate(g, digits, TrainConfig(epochs=3), "cuda")
    steps = 3 * (len(DeviceData.get(digits, 16, torch.device("cuda")).y_train) // 64)
    assert len(replays) == steps - cuda_graph.WARMUP_STEPS
    eager = train_candidate(g, digits, TrainConfig(epochs=3, cuda_graphs=False), "cuda")
    assert len(replays) == steps - cuda_graph.WARMUP_STEPS  # none without graphs
    assert graphed.val_accuracy > 0.8 and abs(graphed.val_accuracy - eager.val_accuracy) < 0.05


def test_a_group_trains_side_by_side_on_the_gpu_as_alone_within_noise_and_failures_stay_alone() -> None:
    """Three candidates in threads on their own CUDA streams, graphed: each reaches its lone
    run's accuracy within 3 points (dropout masks come from the device's shared generator), and
    a diverging fourth fails alone."""
    from nas.train.config import CandidateFailed
    from nas.train.group import CandidatePool

    data = load_dataset("digits")
    refs = load_space("mobile").reference_genotypes(data.in_channels, data.num_classes)
    cfg = TrainConfig(epochs=2, seed=1)
    alone = [train_candidate(g, data, cfg, "cuda").val_accuracy for g in refs]
    pool = CandidatePool(torch.device("cuda"), len(refs) + 1)
    try:
        futures = [pool.submit(train_candidate, g, data, cfg, "cuda") for g in refs]
        futures.append(pool.submit(train_candidate, refs[0], data, replace(cfg, lr=1e30), "cuda"))
        results = [f.exception() or f.result() for f in futures]
    finally:
        pool.close()
    assert pool.threads == len(refs) + 1  # side by side on the GPU
    for a, r in zip(alone, results):
        assert abs(r.val_accuracy - a) < 0.03, (a, r.val_accuracy)
    assert isinstance(results[-1], CandidateFailed)


def test_a_grouped_search_on_the_gpu_ends_at_its_total(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = run_search(config(tmp_path, trials=6, group=3, device="cuda"), out=io.StringIO())
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 6
    assert all(r.device.startswith("cuda") for r in records(study) if r.trained)
