"""Analysis functions against fronts and hypervolumes computed by hand."""

import json

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from nas import get_reference
from nas.report.results import (choice_effects, hypervolume, hypervolume_history, knee, non_dominated,
                         pareto_frame, resolve_trial, trials_frame)
from nas import UserError

G = get_reference("mobilenet_v2").to_json(indent=None)


def synthetic_study(points, extra=()):
    """points: (accuracy, flops) of completed feasible trials, in trial order."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for acc, flops in points:
        t = create_trial(state=TrialState.COMPLETE, values=[acc, flops],
                         params={"s1_kernel": 3 if flops < 5 else 5},
                         distributions={"s1_kernel": CategoricalDistribution([3, 5])},
                         user_attrs={"accuracy": acc, "flops": flops, "params": 10, "trained": True,
                                     "genotype": G, "arch": "a"})
        study.add_trial(t)
    for t in extra:
        study.add_trial(t)
    return study


POINTS = [(0.80, 2.0), (0.90, 4.0), (0.85, 5.0), (0.95, 8.0), (0.70, 1.0), (0.90, 6.0)]


def test_pareto_front_by_hand():
    front = pareto_frame(synthetic_study(POINTS))
    # (0.85, 5) and (0.90, 6) are dominated by (0.90, 4).
    assert list(zip(front["accuracy"], front["flops"])) == [(0.70, 1.0), (0.80, 2.0), (0.90, 4.0), (0.95, 8.0)]


def test_front_excludes_failed_infeasible_and_reused():
    extra = [
        create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "boom", "flops": 0.5}),
        create_trial(state=TrialState.COMPLETE, values=[0.99, 0.5], constraints={"flops": 1.0},
                     user_attrs={"accuracy": 0.0, "flops": 0.5, "over_budget": True}),
        create_trial(state=TrialState.COMPLETE, values=[0.95, 8.0],
                     user_attrs={"accuracy": 0.95, "flops": 8.0, "reused_from": 3}),
    ]
    study = synthetic_study(POINTS, extra)
    frame = trials_frame(study)
    assert frame.loc[6, "state"] == "FAIL" and frame.loc[6, "fail_reason"] == "boom"
    assert not frame.loc[7, "feasible"]
    front = pareto_frame(frame)
    assert set(front["number"]) == {0, 1, 3, 4}


def test_hypervolume_by_hand():
    study = synthetic_study(POINTS)
    # Reference (accuracy 0.5, FLOPs 10): strips between consecutive front FLOPs.
    expected = (0.70 - 0.5) * (2 - 1) + (0.80 - 0.5) * (4 - 2) + (0.90 - 0.5) * (8 - 4) + (0.95 - 0.5) * (10 - 8)
    assert hypervolume(study, reference=(0.5, 10.0)) == pytest.approx(expected)
    # Points beyond the reference contribute nothing.
    assert hypervolume(study, reference=(0.5, 3.0)) == pytest.approx(0.2 * 1 + 0.3 * 1)
    assert hypervolume(synthetic_study([])) == 0.0


def test_hypervolume_history_is_monotone_and_ends_at_total():
    study = synthetic_study(POINTS)
    hist = hypervolume_history(study, reference=(0.5, 10.0))
    assert list(hist["trials"]) == list(range(1, 7))
    assert np.all(np.diff(hist["hypervolume"]) >= 0)
    assert hist["hypervolume"].iloc[-1] == pytest.approx(hypervolume(study, (0.5, 10.0)))
    assert hist["hypervolume"].iloc[0] == pytest.approx(0.3 * 8)  # only (0.80, 2)


def test_knee_by_hand():
    # log10 FLOPs 0..1 and accuracy 0..1 after scaling: the chord is the diagonal; (0.9, 4)
    # lies farthest above it.
    k = knee(synthetic_study(POINTS))
    assert (k["accuracy"], k["flops"]) == (0.90, 4.0)
    assert knee(synthetic_study([(0.8, 2.0), (0.9, 4.0)]))["accuracy"] == 0.9


def test_choice_effects_groups_by_value():
    effects = choice_effects(synthetic_study(POINTS))
    assert {"choice", "value", "count", "acc_mean"} <= set(effects.columns)
    cells = effects[effects["choice"] == "s1_cell"]
    assert cells["count"].sum() == len(POINTS)
    assert cells.iloc[0]["acc_mean"] == pytest.approx(np.mean([p[0] for p in POINTS]))


def test_non_dominated_mask():
    acc = np.array([0.5, 0.6, 0.6, 0.4])
    flops = np.array([1.0, 2.0, 3.0, 0.5])
    assert list(non_dominated(acc, flops)) == [True, True, False, True]


def test_resolve_trial_errors_name_what_exists():
    study = synthetic_study(POINTS, [create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "nan"})])
    assert resolve_trial(study, "best").number == 3
    assert resolve_trial(study, "knee").number == 1
    assert resolve_trial(study, 0).number == 0
    with pytest.raises(UserError, match="does not exist"):
        resolve_trial(study, 99)
    with pytest.raises(UserError, match="nan"):
        resolve_trial(study, 6)
    with pytest.raises(UserError, match="trial number"):
        resolve_trial(study, "first")


def test_study_records_are_typed_where_read_and_older_studies_still_read() -> None:
    """train_config, fidelity and scaling are stored as plain dicts (readable in any Optuna tool,
    and as older versions wrote them) and come back typed from StudyRecord.from_study."""
    import optuna

    from nas.study.store.records import ScalingRecord, StudyRecord
    from nas.train.config import TrainConfig
    from nas.train.rungs import Rungs

    study = optuna.create_study()
    old = {"train_config": {"epochs": 2.0, "lr": 0.1, "a_key_from_another_version": 1},
           "fidelity": {"kind": "sh", "min_epochs": 1.0, "max_epochs": 3.0, "eta": 3.0, "cooldown": 0.2},
           "scaling": {"alpha": 1.2, "beta": 1.1, "gamma": 1.15, "base": "trial 3", "base_genotype": "{}",
                       "flops_factor": 2.0}}  # written before tolerance and grid_version were recorded
    for key, value in old.items():
        study.set_user_attr(key, value)
    record = StudyRecord.from_study(study)
    assert record.train_config == TrainConfig(epochs=2.0, lr=0.1)
    assert record.fidelity == Rungs(1.0, 3.0, 3.0, screen=None)  # recorded before screens: none
    assert record.scaling == ScalingRecord(1.2, 1.1, 1.15, "trial 3", "{}", 2.0, tolerance=0.05, grid_version=1)
    again = optuna.create_study()
    record.write(again)
    assert StudyRecord.from_study(again) == record
    assert again.user_attrs["train_config"]["lr"] == 0.1 and again.user_attrs["fidelity"]["kind"] == "sh"
    assert StudyRecord.from_study(optuna.create_study()).fidelity is None  # single fidelity
