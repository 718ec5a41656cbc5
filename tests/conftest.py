"""Shared test helpers. Tests run on CPU with small models; CUDA tests skip without a GPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
# The CLI's commands, run in this process, take the free cores (nas.train.cpu_threads); the tests
# keep the count above, as a user's OMP_NUM_THREADS would (tests/test_cpu_threads.py covers it).
os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
os.environ.pop("NAS_RESULTS_DIR", None)  # tests find their studies under ./results of their tmp_path

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``nas.cli.main`` in-process, capturing stdout/stderr."""
    import contextlib
    import io

    from nas.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def gp_acquisition(n_objectives: int, constrained: bool, trials: int = 14):  # noqa: ANN201
    """The acquisition function Optuna's GP built for a small study's last proposal (as Optuna
    built it, before LeanGPSampler's search sees it)."""
    import numpy as np
    import optuna

    from nas.study.sampling.samplers import LeanGPSampler

    seen = []

    class Capturing(LeanGPSampler):
        def _optimize_acqf(self, acqf, best_params):  # noqa: ANN001, ANN202
            seen.append(acqf)
            return super()._optimize_acqf(acqf, best_params)

    def objective(t: optuna.Trial) -> list[float]:
        a, b = t.suggest_int("a", 0, 6), t.suggest_int("b", 0, 6)
        if constrained:
            t.set_constraint("c", a + b - 9.5)
        values = [np.sin(a) + 0.3 * b, 0.2 * a + np.cos(b), a * b / 10.0]
        return values[:n_objectives]

    study = optuna.create_study(directions=["maximize", "minimize", "minimize"][:n_objectives],
                                sampler=Capturing(seed=1, n_startup_trials=8, warn_independent_sampling=False))
    study.optimize(objective, n_trials=trials)
    return seen[-1]
