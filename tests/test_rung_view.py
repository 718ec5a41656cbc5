"""Model-based proposals inside successive halving (issue 32): the sampler is fit on one rung."""

import io

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from nas.study.sampling.rung_view import RungView, at_rung, fitting_rung
from nas.study.sampling.samplers import make_sampler
from nas.study.search import run_search
from nas.study.store.records import TrialRecord
from nas.train.rungs import Rungs

from search_helpers import FakeRun, config


class Recording(optuna.samplers.RandomSampler):
    """Random proposals; keeps the trials it was shown at each proposal."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.shown: list[list[optuna.trial.FrozenTrial]] = []

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.shown.append(study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        return super().sample_independent(study, trial, param_name, param_distribution)


def sh_trial(x: int, scores: dict[str, float], log_flops: float) -> optuna.trial.FrozenTrial:
    """A finished halving trial as the search stores it: values = (score at its highest rung, cost)."""
    top = list(scores)[-1]
    return create_trial(params={"x": x}, distributions={"x": IntDistribution(0, 9)}, values=[scores[top], log_flops],
                        user_attrs=TrialRecord(rung_scores=scores, rung_accuracies=scores).to_attrs())


def study_with_rungs() -> optuna.Study:
    """4 trials stopped at rung 1, 2 stopped at rung 3, 1 at the top rung 9."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for x in range(4):
        study.add_trial(sh_trial(x, {"1": 0.5 + x / 100}, 5.0))
    study.add_trial(sh_trial(4, {"1": 0.6, "3": 0.7}, 5.5))
    study.add_trial(sh_trial(5, {"1": 0.62, "3": 0.72}, 5.6))
    study.add_trial(sh_trial(6, {"1": 0.64, "3": 0.74, "9": 0.8}, 6.0))
    return study


def test_the_rung_is_the_highest_with_parameters_plus_one_results():
    trials = study_with_rungs().get_trials()
    assert fitting_rung(trials, ["1", "3", "9"], parameters=1) == "3"  # 3 results >= 2; rung 9 has 1
    assert fitting_rung(trials, ["1", "3", "9"], parameters=0) == "9"
    assert fitting_rung(trials, ["1", "3", "9"], parameters=3) == "1"  # 3 < 4 at rung 3: the lowest
    assert fitting_rung([], ["1", "3", "9"], parameters=3) == "1"


def test_the_sampler_sees_that_rungs_scores_and_the_stopped_below_it_as_stopped():
    study = study_with_rungs()
    inner = Recording()
    study.sampler = RungView(inner, ["1", "3", "9"])
    trial = study.ask()
    trial.suggest_int("x", 0, 9)
    shown = {t.number: t for t in inner.shown[-1]}
    assert {n: t.values[0] for n, t in shown.items() if t.state == TrialState.COMPLETE} == {4: 0.7, 5: 0.72, 6: 0.74}
    assert {n for n, t in shown.items() if t.state == TrialState.PRUNED} == {0, 1, 2, 3}
    assert all(t.values is None and not t.intermediate_values for t in shown.values() if t.state == TrialState.PRUNED)
    assert shown[6].values[1] == 6.0  # the cost as stored
    assert study.trials[-1].user_attrs["proposed_from_rung"] == "3"
    assert TrialRecord.from_trial(study.trials[-1]).proposed_from_rung == "3"
    assert study.trials[6].values == [0.8, 6.0]  # the study itself is unchanged


def test_a_trial_not_trained_by_halving_is_shown_as_it_is():
    plain = create_trial(params={"x": 1}, distributions={"x": IntDistribution(0, 9)}, values=[0.4, 5.0])
    assert at_rung(plain, "3") is plain
    running = optuna.trial.FrozenTrial(number=0, state=TrialState.RUNNING, value=None, datetime_start=None,
                                       datetime_complete=None, params={}, distributions={}, user_attrs={},
                                       system_attrs={}, intermediate_values={}, trial_id=0)
    assert at_rung(running, "3") is running


@pytest.mark.parametrize("name", ["tpe", "gp", "auto"])
def test_every_model_based_sampler_proposes_through_the_view(name):
    study = study_with_rungs()
    study.sampler = make_sampler(name, 0, rungs=["1", "3", "9"])
    for _ in range(6):  # past the start-up trials: the model proposes
        trial = study.ask()
        x = trial.suggest_int("x", 0, 9)
        study.tell(trial, [0.5, 5.0])
        assert x in range(10)
    assert all(t.user_attrs.get("proposed_from_rung") in ("1", "3") for t in study.trials[7:])


def test_a_halving_search_records_the_rung_each_proposal_was_fit_on(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    cfg = config(tmp_path, fidelity=Rungs(1, 3, 3, screen=None), trials=40, sampler="tpe")
    study = run_search(cfg, out=io.StringIO(), run_factory=FakeRun)
    parameters = len(study.trials[-1].distributions)
    fit_on = []
    for t in study.trials:
        r = TrialRecord.from_trial(t)
        before = [u for u in study.trials if u.number < t.number]  # serial: every earlier trial had finished
        assert r.proposed_from_rung == fitting_rung(before, ["1", "3"], parameters), t.number
        fit_on.append(r.proposed_from_rung)
    assert fit_on[0] == "1" and "3" in fit_on  # lowest until the top rung held parameters + 1 results
    assert fit_on.index("3") > parameters  # never before there could be that many results
    from nas.report.results import trials_frame

    assert list(trials_frame(study)["proposed_from_rung"]) == fit_on  # the user sees it too
