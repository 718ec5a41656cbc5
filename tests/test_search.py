import math

import pytest
from optuna.trial import TrialState

from nas import Genotype, UserError
from nas.model.cost import estimate_cost, space_min_cost
from nas.report.results import pareto_frame, trials_frame
from nas.study.run.steps import evaluated_count
from nas.units import parse_quantity
from nas.arch.space_file import load_space
from nas.train.trainer import CandidateFailed

from search_helpers import TWO_ARCH_SPACE, FakeTrainer, config, search, write_space


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    return FakeTrainer()


def test_search_records_everything_a_study_needs(fake, tmp_path):
    study = search(config(tmp_path, trials=6), fake)
    assert evaluated_count(study) == 6
    t = study.trials[0]
    for key in ("genotype", "arch", "params", "flops", "accuracy", "train_time", "images_per_sec", "device"):
        assert key in t.user_attrs
    g = Genotype.from_json(t.user_attrs["genotype"])
    assert g.in_channels == 1 and g.num_classes == 10  # from the dataset
    assert estimate_cost(g).flops == t.user_attrs["flops"]
    assert t.values[1] == pytest.approx(math.log10(t.user_attrs["flops"]))  # log10 FLOPs objective
    assert attrs_objectives(study) == ["accuracy", "log10_flops"] == study.metric_names
    attrs = study.user_attrs
    assert attrs["dataset"] == "digits" and "stages:" in attrs["space_text"] and attrs["seed"] == 0
    assert (tmp_path / "results/t/trials.csv").exists() and (tmp_path / "results/t/pareto.csv").exists()
    assert (tmp_path / "results/t/journal.log").exists()  # the default storage (BENCHMARKS.md §2)
    assert not (tmp_path / "results/t/study.db").exists()


def attrs_objectives(study):
    return study.user_attrs["objectives"]


def test_study_from_an_older_parameter_encoding_is_refused_not_mixed(fake, tmp_path):
    study = search(config(tmp_path, trials=2), fake)
    study.set_user_attr("param_encoding", "categorical-v1")
    with pytest.raises(UserError, match="earlier version.*another --study"):
        search(config(tmp_path, trials=3), fake)


def test_over_budget_candidates_are_never_trained(fake, tmp_path):
    space = load_space(write_space(tmp_path))
    _, min_flops = space_min_cost(space, 1, 10)
    budget = min_flops * 1.6
    study = search(config(tmp_path, trials=8, flops_max=budget), fake)
    frame = trials_frame(study)
    over = [t for t in study.trials if t.user_attrs.get("over_budget")]
    assert over, "the budget should exclude part of this space"
    assert all(estimate_cost(g).flops <= budget for g in fake.trained)
    for t in over:
        assert t.constraints["flops"] > 0 and "accuracy" not in t.user_attrs
    assert evaluated_count(study) == 8  # over-budget rejections do not count
    assert pareto_frame(frame)["flops"].max() <= budget


def test_impossible_budget_is_a_user_error_before_training(fake, tmp_path):
    with pytest.raises(UserError, match="impossible"):
        search(config(tmp_path, flops_max=1000), fake)
    assert fake.trained == []


def test_duplicate_genotypes_are_reused_not_retrained(fake, tmp_path):
    study = search(config(tmp_path, space=str(write_space(tmp_path, TWO_ARCH_SPACE, "two.yaml")), trials=6),
                   fake)
    assert len(fake.trained) == 2
    reused = [t for t in study.trials if "reused_from" in t.user_attrs]
    assert len(reused) == 4
    for t in reused:
        original = study.trials[t.user_attrs["reused_from"]]
        assert t.values == original.values and t.user_attrs["key"] == original.user_attrs["key"]
    assert len(pareto_frame(study)) <= 2


@pytest.mark.parametrize("error", [RuntimeError, CandidateFailed])
def test_failing_candidates_are_recorded_and_search_goes_on(monkeypatch, tmp_path, error):
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=6), FakeTrainer(fail_every=2, error=error))
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) >= 2
    assert all("boom in candidate" in t.user_attrs["fail_reason"] for t in failed)
    assert evaluated_count(study) == 6


def test_rerun_resumes_and_runs_only_missing_trials(fake, tmp_path):
    first = search(config(tmp_path, trials=3), fake)
    before = [(t.number, t.values) for t in first.trials]
    study = search(config(tmp_path, trials=5), fake)
    assert evaluated_count(study) == 5
    assert [(t.number, t.values) for t in study.trials[:3]] == before
    again = search(config(tmp_path, trials=5), fake)
    assert len(again.trials) == 5  # nothing missing: nothing run


def test_a_study_made_in_sqlite_before_the_journal_default_resumes_in_place(fake, tmp_path):
    """Studies made when SQLite was the default are continued in their study.db: no journal
    file appears beside them, and several workers are refused there (SQLite)."""
    import optuna

    (tmp_path / "results/t").mkdir(parents=True)
    old = search(config(tmp_path, trials=3, storage=f"sqlite:///{tmp_path / 'results/t/study.db'}"), fake)
    before = [(t.number, t.values) for t in old.trials]
    study = search(config(tmp_path, trials=5), fake)
    assert not (tmp_path / "results/t/journal.log").exists()
    in_db = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'results/t/study.db'}")
    assert evaluated_count(in_db) == evaluated_count(study) == 5
    assert [(t.number, t.values) for t in in_db.trials[:3]] == before
    with pytest.raises(UserError, match="not safe for 2 concurrent workers"):
        search(config(tmp_path, trials=6, workers=2), fake)


def test_resume_with_a_different_space_is_refused(fake, tmp_path):
    search(config(tmp_path, trials=1), fake)
    other = tmp_path / "other.yaml"
    other.write_text(TWO_ARCH_SPACE)
    with pytest.raises(UserError, match="different search space"):
        search(config(tmp_path, space=str(other), trials=2), fake)


def test_seed_archs_are_evaluated_first(fake, tmp_path):
    study = search(config(tmp_path, trials=3, seed_archs=True), fake)
    assert study.trials[0].user_attrs.get("reference") == "small"
    space = load_space(write_space(tmp_path))
    assert fake.trained[0] == space.reference_genotypes(1, 10)[0]


@pytest.mark.parametrize("sampler", ["auto", "tpe", "nsga2", "random", "gp"])
def test_every_sampler_runs(fake, tmp_path, sampler):
    study = search(config(tmp_path, trials=4, sampler=sampler), fake)
    assert evaluated_count(study) == 4


def test_reward_mode_reports_epochs_and_prunes(fake, tmp_path):
    study = search(config(tmp_path, trials=8, flops_target=1e6, pruner="median"), fake)
    assert len(study.directions) == 1
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    t = done[0]
    acc, flops = t.user_attrs["accuracy"], t.user_attrs["flops"]
    assert t.values[0] == pytest.approx(acc * (flops / 1e6) ** -0.07)
    assert t.intermediate_values  # per-epoch reports reached Optuna


def test_parse_quantity():
    assert parse_quantity("20M", "--x") == 20e6
    assert parse_quantity("1.5G", "--x") == 1.5e9
    assert parse_quantity("300k", "--x") == 3e5
    for bad in ("abc", "-5M", "0"):
        with pytest.raises(UserError):
            parse_quantity(bad, "--flops-max")


def test_search_never_loads_the_test_split_and_the_study_records_it(fake, tmp_path):
    from nas.study.store.records import StudyRecord
    from nas.study.opening import study_dataset

    study = search(config(tmp_path, trials=3), fake)
    assert fake.datasets and all(d.x_test is None and d.y_test is None for d in fake.datasets)
    record = StudyRecord.from_study(study)
    assert record.test_fraction == 0.2 and record.test_split.startswith("carved 0.2")
    final = study_dataset(record, with_test=True)  # what retrain scores on: the recorded split
    assert final.test_split == record.test_split and len(final.y_test) == final.n_test > 0
    study.set_user_attr("test_split", record.test_split.replace("fingerprint", "fingerprint 0"))
    with pytest.raises(UserError, match="changed since the search"):
        study_dataset(StudyRecord.from_study(study), with_test=True)


def test_auto_sampler_is_gp_then_tpe_and_decides_once_per_trial() -> None:
    import optuna

    from nas.study.sampling.samplers import SwitchingSampler, make_sampler

    class Named(optuna.samplers.RandomSampler):
        def __init__(self, name: str, log: list) -> None:
            super().__init__(seed=0)
            self.name, self.log = name, log

        def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: ANN001, ANN201
            self.log.append((trial.number, self.name))
            return super().sample_independent(study, trial, param_name, param_distribution)

    log: list = []
    study = optuna.create_study(sampler=SwitchingSampler(Named("first", log), Named("then", log), 3))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), n_trials=5)
    assert [name for _, name in log] == ["first"] * 6 + ["then"] * 4
    auto = make_sampler("auto", 0).inner  # inside the ordinal view
    assert isinstance(auto.first.first, optuna.samplers.GPSampler)  # ordered parameters: GP, then TPE
    assert isinstance(auto.first.then, optuna.samplers.TPESampler) and auto.then is auto.first.then


def test_auto_proposes_with_tpe_where_every_parameter_is_an_unordered_category():
    """Issue 32: GP lost to random search on the public all-categorical table (BENCHMARKS.md §12);
    auto keeps GP wherever a parameter is ordered (numbers, seen as indexes) and uses TPE where
    none is."""
    import optuna

    from nas.study.sampling.samplers import make_sampler

    used = {}
    for space, choices in (("categorical", ["a", "b", "c"]), ("ordered", [16, 24, 32])):
        sampler = make_sampler("auto", 0)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        for i in range(3):
            trial = study.ask()
            x = [trial.suggest_categorical(f"c{j}", choices) for j in range(3)]
            study.tell(trial, [float(len(set(x))), float(i)])
        rule, probe = sampler.inner, study.ask()
        used[space] = "tpe" if rule._for(sampler._view(study), probe) is rule.then else "gp"
    assert used == {"categorical": "tpe", "ordered": "gp"}


def _spy_on_acquisition_search(monkeypatch, spy) -> None:  # noqa: ANN001
    """Route Optuna's GP acquisition search through ``spy(real, acqf, **kw)``. The GP sampler
    reaches the module through a lazy import that copies the module's names at its first use,
    so both the module and that copy are patched (patching the module alone works only in the
    first test that runs GP)."""
    from functools import partial

    from optuna._gp import optim_mixed
    from optuna.samplers._gp import sampler as gp_sampler

    real = optim_mixed.optimize_acqf_mixed
    gp_sampler.optim_mixed.optimize_acqf_mixed  # noqa: B018 - loads the lazy import before patching it
    for holder in {id(optim_mixed): optim_mixed, id(gp_sampler.optim_mixed): gp_sampler.optim_mixed}.values():
        monkeypatch.setattr(holder, "optimize_acqf_mixed", partial(spy, real))


def test_gp_searches_its_acquisition_function_with_the_lean_settings(monkeypatch) -> None:
    """LeanGPSampler's two settings reach the acquisition search: ours on a discrete space,
    Optuna's where a parameter is continuous (if an Optuna release renames what it reads, this
    fails: the search would silently be x4 slower per ask)."""
    import optuna

    from nas.study.sampling import acquisition
    from nas.study.sampling.samplers import LeanGPSampler, make_sampler

    seen: list[tuple[str, int, int]] = []

    def optunas(real, acqf, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.append(("optuna", kw["n_preliminary_samples"], kw["n_local_search"]))
        return real(acqf, **kw)

    def ours(acqf, warm, points, searches, *args, real=acquisition.optimize_discrete_acqf, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(("ours", points, searches))
        return real(acqf, warm, points, searches, *args, **kw)

    _spy_on_acquisition_search(monkeypatch, optunas)
    monkeypatch.setattr(acquisition, "optimize_discrete_acqf", ours)
    sampler = make_sampler("gp", 0).inner  # inside the ordinal view
    assert isinstance(sampler, LeanGPSampler) and sampler.lean
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_int("a", 0, 4), t.suggest_categorical("b", ["x", "y", "z"]) == "x"),
                   n_trials=12)
    continuous = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler("gp", 0))
    continuous.optimize(lambda t: (t.suggest_int("a", 0, 4) + t.suggest_float("f", 0, 1), t.params["a"] > 2),
                        n_trials=11)
    lean = (LeanGPSampler.PRELIMINARY_POINTS, LeanGPSampler.LOCAL_SEARCHES)
    assert seen == [("ours", *lean)] * 2 + [("optuna", *lean)]


def test_gp_proposes_outside_torch_function_modes_and_the_same(monkeypatch) -> None:
    """Optuna wraps GP's proposal in ``torch.device("cpu")``, a function mode that routes every
    tensor operation through Python; LeanGPSampler turns the overrides off inside it. They must
    be off where the acquisition is searched (if an Optuna release renames the method, this
    fails: each ask would be x1.3-1.6 slower), and the proposals must equal Optuna's own path's."""
    import optuna
    import torch

    from nas.study.sampling.samplers import LeanGPSampler

    overrides_on: list[bool] = []

    def spy(real, acqf, **kw):  # noqa: ANN001, ANN003, ANN202
        overrides_on.append(torch._C._is_torch_function_enabled() and torch._C._len_torch_function_stack() > 0)
        return real(acqf, **kw)

    _spy_on_acquisition_search(monkeypatch, spy)

    class OptunasPath(LeanGPSampler):
        def _sample_relative_impl(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return optuna.samplers.GPSampler._sample_relative_impl(self, *args, **kwargs)

    def proposals(sampler: optuna.samplers.BaseSampler) -> list[dict]:
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        study.optimize(lambda t: (t.suggest_int("a", 0, 4) + t.suggest_float("c", 0, 1),
                                  t.suggest_categorical("b", ["x", "y", "z"]) == "x"), n_trials=12)
        return [t.params for t in study.trials]

    lean = proposals(LeanGPSampler(seed=3, n_startup_trials=10))
    assert overrides_on == [False, False]
    assert lean == proposals(OptunasPath(seed=3, n_startup_trials=10))
    assert overrides_on[2:] == [True, True]  # the spy does see the mode where it is on


def test_gp_start_up_is_paid_in_a_warm_up_thread_not_at_the_first_ask() -> None:
    """GP's lazy imports (scipy.stats among them) are loaded by a throwaway proposal in a
    background thread where the sampler proposes with GP; other samplers start no thread."""
    import subprocess
    import sys

    code = ("import sys, torch; from nas.study.sampling.samplers import make_sampler, warm_up\n"
            "assert 'scipy.stats' not in sys.modules\n"
            "assert warm_up(make_sampler('tpe', 0)) is None and warm_up(make_sampler('random', 0)) is None\n"
            "thread = warm_up(make_sampler('auto', 0)); thread.join(120)\n"
            "assert not thread.is_alive() and 'scipy.stats' in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr


def test_where_optuna_moved_gps_settings_its_own_search_runs(monkeypatch) -> None:
    """The GP fence's other way (nas.study.sampling.lean_gp): where our settings did not take
    (as after a rename in Optuna), the sampler is not lean and Optuna's own acquisition search runs
    with Optuna's own settings."""
    import optuna

    from nas.study.sampling.samplers import make_sampler

    seen: list[tuple[int, int]] = []

    def optunas(real, acqf, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.append((kw["n_preliminary_samples"], kw["n_local_search"]))
        return real(acqf, **kw)

    _spy_on_acquisition_search(monkeypatch, optunas)
    sampler = make_sampler("gp", 0).inner
    sampler._n_preliminary_samples, sampler._n_local_search = 2048, 10  # Optuna's own, as if ours never applied
    assert not sampler.lean
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_int("a", 0, 4), t.suggest_categorical("b", ["x", "y", "z"]) == "x"),
                   n_trials=11)
    assert seen == [(2048, 10)]
