"""Every brief candidate records every signal (nas.train.signals), the zero-cost ones leave training
as it was, and the rank statistics of a calibration are the textbook ones (issue 31)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.arch.genotype import Genotype
from nas.train.signals import SIGNALS, Signals, loss_signals, objective_name, parse_signal
from nas.train.trainer import TrainConfig, train_candidate
from search_helpers import write_space


@pytest.fixture(scope="module")
def digits():
    from nas.train.sources import load_dataset

    return load_dataset("digits", 0.2, 0)


def tiny_genotype(tmp_path: Path) -> Genotype:
    from nas.arch.space_file import load_space

    return load_space(str(write_space(tmp_path))).reference_genotypes(1, 10)[0]


def test_a_trained_candidate_records_every_signal_finite(tmp_path: Path, digits) -> None:
    result = train_candidate(tiny_genotype(tmp_path), digits, TrainConfig(epochs=0.5), "cpu")
    signals = result.signals
    assert signals is not None
    for name in SIGNALS:
        value = signals.value(name)
        assert value is not None and math.isfinite(value), name
    assert signals.val_accuracy == result.val_accuracy
    assert signals.zero_cost_seconds is not None and signals.zero_cost_seconds > 0


def test_zero_cost_signals_are_deterministic_and_leave_training_as_it_was(tmp_path: Path, digits) -> None:
    g = tiny_genotype(tmp_path)
    first = train_candidate(g, digits, TrainConfig(epochs=0.5, seed=3), "cpu", keep_model=True)
    again = train_candidate(g, digits, TrainConfig(epochs=0.5, seed=3), "cpu", keep_model=True)
    without = train_candidate(g, digits, TrainConfig(epochs=0.5, seed=3, zero_cost=False), "cpu", keep_model=True)
    at_init = [n for n, kind in SIGNALS.items() if kind.at_init]
    assert [first.signals.value(n) for n in at_init] == [again.signals.value(n) for n in at_init]
    assert without.signals.synflow is None and without.signals.tse == first.signals.tse
    for a, b in zip(first.model.state_dict().values(), without.model.state_dict().values()):
        assert torch.equal(a, b)  # the same training, weight for weight


def test_loss_signals_weight_the_run_as_documented() -> None:
    losses = [float(x) for x in range(1, 41)]  # a loss that grows: every estimate is an average of it
    out = loss_signals(losses)
    assert out["tse"] == pytest.approx(20.5)
    assert out["tse_late"] == pytest.approx(np.mean(losses[30:]))
    windows = [np.mean(losses[i * 4:(i + 1) * 4]) for i in range(10)]
    weights = [0.9 ** (9 - i) for i in range(10)]
    assert out["tse_ema"] == pytest.approx(np.dot(weights, windows) / sum(weights))
    assert out["tse"] < out["tse_ema"] < out["tse_late"]


def test_signals_are_named_and_oriented() -> None:
    s = Signals(val_accuracy=0.8, tse=2.0)
    assert s.oriented("val_accuracy") == 0.8 and s.oriented("tse") == -2.0 and s.oriented("synflow") is None
    assert objective_name("val_accuracy") == "accuracy" and objective_name("tse") == "-tse"
    assert objective_name("synflow") == "synflow"
    assert parse_signal("tse@2") == ("tse", 2.0) and parse_signal("naswot") == ("naswot", None)
    assert Signals.from_dict(s.to_dict()) == s


def test_tau_and_partial_tau_against_a_direct_computation() -> None:
    from scipy.stats import kendalltau

    from nas.report.calibration import kendall_tau, partial_tau

    rng = np.random.default_rng(0)
    z = rng.normal(size=25)
    x = z + rng.normal(size=25)
    y = np.round(z + rng.normal(size=25), 1)  # with ties
    assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic)  # tau-b
    txy, txz, tyz = (kendalltau(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    assert partial_tau(x, y, z) == pytest.approx((txy - txz * tyz) / math.sqrt((1 - txz ** 2) * (1 - tyz ** 2)))
    assert math.isnan(partial_tau(z, 2 * z + 1, z))  # nothing is left to rank once z is fixed
