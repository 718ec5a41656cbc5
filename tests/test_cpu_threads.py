"""A command training on the CPU uses the free cores, a user's OMP_NUM_THREADS wins, workers
divide them; a trial far slower than the study's median is warned about once (issue 33)."""

from __future__ import annotations

import io

import pytest
import torch
from optuna.trial import TrialState

from nas.train import cpu_threads


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpu_threads.os, "sched_getaffinity", lambda pid: {0, 1})
    before = torch.get_num_threads()
    yield monkeypatch
    torch.set_num_threads(before)


def test_free_cores_count_what_other_processes_keep_busy(two_cores):
    two_cores.setattr(cpu_threads, "_busy_cores", lambda cores, seconds: 0.1)
    assert cpu_threads.free_cores() == 2 and cpu_threads.training_threads() == 2
    assert cpu_threads.training_threads(workers_on_cpu=2) == 1
    two_cores.setattr(cpu_threads, "_busy_cores", lambda cores, seconds: 1.2)  # one busy neighbour
    assert cpu_threads.free_cores() == 1 and cpu_threads.training_threads() == 1
    two_cores.setattr(cpu_threads, "_busy_cores", lambda cores, seconds: 2.0)
    assert cpu_threads.free_cores() == 1  # at least one
    note = cpu_threads.use_free_cores("cpu")
    assert torch.get_num_threads() == 1 and "training on 1 thread: 1 of 2 cores busy" in note
    assert cpu_threads.use_free_cores("cpu", workers=2) is None  # workers set their own


def test_a_users_omp_num_threads_wins(two_cores):
    two_cores.setattr(cpu_threads, "_busy_cores", lambda cores, seconds: 2.0)
    two_cores.setenv("OMP_NUM_THREADS", "2")
    assert cpu_threads.training_threads() == 2
    assert cpu_threads.training_threads(workers_on_cpu=4) == 1  # the given cores, divided
    assert cpu_threads.use_free_cores("cpu") is None and torch.get_num_threads() == 2


def test_busy_cores_reads_proc_stat(two_cores):
    busy = cpu_threads._busy_cores({0, 1}, 0.05)
    assert busy is None or 0.0 <= busy <= 2.0


def test_a_trial_far_slower_than_the_studys_median_is_warned_about_once(capsys):
    from nas.study.run.progress import Progress
    from nas.study.store.records import TrialRecord

    class NoTrials:
        def get_trials(self, deepcopy=False, states=None):  # noqa: ANN001, ANN202
            return []

    progress = Progress(total=10, study=NoTrials(), enabled=False)
    for number, speed in enumerate([1000, 1100, 950, 1050, 1000, 200, 150]):
        progress.update(number, TrialRecord(accuracy=0.5, flops=1000, images_per_sec=speed, trained=True),
                        TrialState.COMPLETE)
    err = capsys.readouterr().err
    assert err.count("warning: trial 5 trained at 200 images/s") == 1 and "OMP_NUM_THREADS" in err
    assert "trial 6" not in err  # once
