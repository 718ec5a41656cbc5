"""Several workers per GPU (nas.study.run.placement): placement, memory shares and the memory check,
with the CUDA queries faked (this machine has no GPU); the real run is bench.gpu's job."""

from __future__ import annotations

import pytest
import torch

from nas.errors import UserError
from nas.study.run.placement import (GIB, assign_devices, check_gpu_memory, memory_shares, worker_floor_bytes,
                                 workers_wanted)

from conftest import run_cli


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, int]]:
    free = {"cuda:0": (10 * GIB, 80 * GIB), "cuda:1": (3 * GIB, 80 * GIB)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: free[str(device)])
    return free


def test_workers_fill_each_gpu_up_to_k(two_gpus: dict) -> None:
    assert assign_devices("auto", 4, per_device=2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert assign_devices("cuda:1", 3, per_device=4) == ["cuda:1"] * 3
    assert assign_devices("cuda", 3, gpu_ids=[1]) == ["cuda:1"] * 3  # no K: as many as asked
    with pytest.raises(UserError, match="--workers 5 with --workers-per-device 2: .* hold at most 4"):
        assign_devices("auto", 5, per_device=2)
    assert assign_devices("cpu", 2, per_device=1) == ["cpu", "cpu"]


def test_k_alone_sets_the_worker_count(two_gpus: dict) -> None:
    assert workers_wanted(None, 3, "auto", None) == 6
    assert workers_wanted(None, 3, "auto", [0]) == 3
    assert workers_wanted(None, 3, "cpu", None) == 3  # the CPU counts as one device
    assert workers_wanted(5, 3, "auto", None) == 5 and workers_wanted(None, None, "auto", None) == 1


def test_each_worker_gets_its_share_of_its_gpu() -> None:
    assert memory_shares(["cuda:0"] * 4 + ["cuda:1", "cpu"]) == [0.25] * 4 + [1.0, 1.0]


def test_too_many_workers_for_a_gpu_are_refused_before_starting(two_gpus: dict) -> None:
    floor = worker_floor_bytes(GIB // 4)  # 1 GiB: context, data, working set
    check_gpu_memory(["cuda:0"] * 8 + ["cuda:1"] * 2, floor)  # 10 GiB and 3 GiB free
    with pytest.raises(UserError, match=r"4 workers on cuda:1 need at least 4.0 GiB .* at most 3 fit"):
        check_gpu_memory(["cuda:0"] * 4 + ["cuda:1"] * 4, floor)


def test_bad_k_is_one_line_and_exit_2(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("search", "--workers-per-device", "0", "--trials", "2", "--study", "k0")
    assert code == 2 and "--workers-per-device must be >= 1, got 0" in err
    assert "Traceback" not in err and not (tmp_path / "results").exists()


@pytest.mark.parametrize("command", [["retrain", "--arch", "best", "--final-epochs", "1"], ["scale", "--arch", "best"]])
def test_retrain_and_scale_place_k_workers_per_gpu_and_refuse_what_cannot_fit(
        tmp_path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:  # noqa: ANN001
    from search_helpers import FakeTrainer, config, search

    monkeypatch.chdir(tmp_path)
    journal = f"journal:{tmp_path / 'j.log'}"
    search(config(tmp_path, trials=2, storage=journal), FakeTrainer())
    free = {"cuda:0": (10 * GIB, 80 * GIB), "cuda:1": (3 * GIB, 80 * GIB)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: free[str(device)])
    code, _, err = run_cli(*command, "--study", "t", "--storage", journal, "--device", "cuda:1",
                           "--workers-per-device", "8")
    assert code == 2 and "8 workers on cuda:1 need at least" in err and "at most" in err and "Traceback" not in err
    import optuna

    names = {s.study_name for s in optuna.get_all_study_summaries(optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log"))))}
    assert names == {"t"}  # refused before its retrain or scaling study was made


def test_a_search_on_a_gpu_checks_the_memory_of_its_largest_resolution(tmp_path, monkeypatch, two_gpus) -> None:  # noqa: ANN001
    """The floor is asked of the data at the space's largest resolution (a search on a GPU once
    failed here before its first trial: the check asked for a resolution the space did not have)."""
    from search_helpers import TINY_SPACE, FakeTrainer, config, search, write_space

    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path, TINY_SPACE.replace("resolution: 16", "resolution: [12, 16]"))
    from nas.study.run.steps import evaluated_count

    study = search(config(tmp_path, space=str(space), trials=2, device="cuda:0"), FakeTrainer())
    assert evaluated_count(study) == 2  # (asked ahead on a GPU: one surplus trial, not counted)
    two_gpus["cuda:0"] = (GIB // 2, 80 * GIB)  # less than one worker's floor
    with pytest.raises(UserError, match="1 workers on cuda:0 need at least"):
        search(config(tmp_path, space=str(space), trials=3, device="cuda:0"), FakeTrainer())
