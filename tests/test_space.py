import itertools
from pathlib import Path

import optuna
import pytest

from nas import UserError, get_reference, load_space
from nas.arch.space import param_value
from nas.arch.space_file import shipped_spaces

from conftest import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = """
name: tiny
resolution: 16
stem: {channels: 8, kernel: 3, stride: 1, activation: relu}
stages:
  - {cells: [mb, res], kernels: [3, 5], expansions: [1, 2], se_ratios: [0, 0.25], repeats: [1, 2], channels: [8], stride: 1, activation: relu}
  - {cells: [resb, fmb], kernels: [3], expansions: [2, 4], se_ratios: [0, 0.5], repeats: {min: 1, max: 2}, channels: [8, 16], stride: 2, activations: [relu, silu]}
head: {channels: 32, activation: relu, dropout: 0.0}
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", shipped_spaces(), ids=lambda p: p.stem)
def test_shipped_spaces_load_and_references_lie_inside(path):
    space = load_space(path)
    assert space.size() > 1000
    refs = space.reference_genotypes()
    assert refs and all(space.contains(g) for g in refs)


def test_shipped_spaces_cover_required_names():
    assert {"mobile", "efficientnetv2", "resnet", "mixed"} <= {p.stem for p in shipped_spaces()}
    cells = set(itertools.chain.from_iterable(sc.cells for sc in load_space("mixed").stages))
    assert cells == {"mb", "fmb", "res", "resb"}


def test_size_equals_brute_force_count_of_distinct_genotypes(tmp_path):
    space = load_space(write(tmp_path, TINY))
    seen = set()
    # Enumerate every parameter combination through the sampler itself.
    names, grids = [], []
    for i, sc in enumerate(space.stages):
        for name, choices in (("cell", sc.cells), ("kernel", sc.kernels), ("expansion", sc.expansions),
                              ("se_ratio", sc.se_ratios), ("repeats", sc.repeats), ("channels", sc.channels),
                              ("activation", sc.activations)):
            if len(choices) > 1:
                names.append(f"s{i}_{name}")
                grids.append([param_value(choices, c) for c in choices])
    for combo in itertools.product(*grids):
        trial = optuna.trial.FixedTrial(dict(zip(names, combo)))
        seen.add(space.sample(trial).key())
    assert space.size() == len(seen)
    # res ignores expansion and SE; resb ignores SE: fewer genotypes than parameter combinations.
    assert len(seen) < len(list(itertools.product(*grids)))


def test_numeric_choices_are_stored_as_values_and_categories_stay_categorical():
    """Issue 33: the study holds what was built (s1_channels = 16/24, not 0/1), as sorted
    categorical values; v3's index encoding is still read for resumed studies."""
    space = load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    g = space.sample(trial, 1, 10)
    dists = trial.distributions
    assert isinstance(dists["s1_channels"], optuna.distributions.CategoricalDistribution)
    assert dists["s1_channels"].choices == tuple(sorted(space.stages[1].channels))
    assert trial.params["s1_channels"] == g.stages[1].channels
    assert trial.params["s2_expansion"] == g.stages[2].expansion
    old = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    g3 = space.sample(old, 1, 10, "index")
    assert isinstance(old.distributions["s1_channels"], optuna.distributions.IntDistribution)
    assert sorted(space.stages[1].channels)[old.params["s1_channels"]] == g3.stages[1].channels
    mixed = load_space("mixed")
    t2 = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    mixed.sample(t2, 1, 10)
    assert isinstance(t2.distributions["s1_cell"], optuna.distributions.CategoricalDistribution)


def test_sampling_uses_stable_parameter_names_and_stays_inside():
    space = load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        trial = study.ask()
        g = space.sample(trial, in_channels=1, num_classes=10)
        assert space.contains(g)
        assert g.in_channels == 1
        study.tell(trial, 0.0)
    assert set(study.trials[0].params) == {
        "s0_channels", *(f"s{i}_{n}" for i in range(1, 5)
                         for n in ("kernel", "expansion", "se_ratio", "repeats", "channels"))}


def test_parameter_names_are_the_trials_frame_column_names(tmp_path):
    """One naming scheme: every sampled parameter is also a column of the trials frame."""
    from nas.report.results import trials_frame

    space = load_space(write(tmp_path, TINY))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        g = space.sample(trial, 1, 10)
        trial.set_user_attr("genotype", g.to_json(indent=None))
        study.tell(trial, 0.5)
    columns = set(trials_frame(study).columns)
    params = {name for t in study.trials for name in t.params}
    assert params and params <= columns


def test_params_for_reproduces_reference_through_a_fixed_trial():
    space = load_space("mixed")
    for g in space.reference_genotypes():
        again = space.sample(optuna.trial.FixedTrial(space.params_for(g)))
        assert again == g


def test_contains_rejects_outside_points():
    space = load_space("mobile")
    g = space.reference_genotypes()[0]
    assert space.contains(g)
    assert not space.contains(g.with_updates(resolution=64))
    assert not space.contains(get_reference("efficientnet_b0"))
    stages = list(g.stages)
    stages[1] = stages[1].__class__(**{**stages[1].__dict__, "channels": 17})
    assert not space.contains(g.with_updates(stages=tuple(stages)))


BAD_FILES = [
    ("stages:\n  - {cells: [mb]\n", "YAML syntax error"),
    (TINY.replace("cells: [mb, res]", "cells: [mb, conv]"), "stage 0: field 'cells' has bad value 'conv'; allowed: one of 'mb', 'fmb', 'res', 'resb'"),
    (TINY.replace("channels: [8], stride: 1", "channels: [0], stride: 1"), "stage 0: field 'channels' has bad value 0"),
    (TINY.replace("kernels: [3, 5]", "kernels: [3, 4]"), "stage 0: field 'kernels' has bad value 4; allowed: an odd integer >= 1"),
    (TINY.replace("kernels: [3, 5]", "kernels: [0]"), "stage 0: field 'kernels' has bad value 0"),
    (TINY.replace("stride: 2", "stride: 3"), "stage 1: field 'stride' has bad value 3; allowed: 1, 2"),
    (TINY.replace("kernels: [3, 5]", "kernels: []"), "stage 0: field 'kernels' is an empty list"),
    (TINY.replace("se_ratios: [0, 0.5]", "se_ratios: [0, 1.5]"), "stage 1: field 'se_ratios' has bad value 1.5; allowed: a number in [0, 1]"),
    (TINY.replace("activation: relu}", "activation: gelu}", 1), "field 'activation' has bad value 'gelu'"),
    (TINY.replace("stem:", "steam:"), "unknown field 'steam'"),
    (TINY + "reference_archs:\n  - {name: x, stages: [mb_r9_k3_s1_e1_c8_nre, fmb_r1_k3_s2_e2_c8_nre]}\n", "not inside this search space"),
    ("- 1\n- 2\n", "expected a mapping"),
]


@pytest.mark.parametrize("text,message", BAD_FILES)
def test_bad_space_files_give_one_clear_line_and_exit_2(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_space(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    code, out, err = run_cli("space", "--space", str(path))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_space_file_lists_shipped_spaces():
    code, _, err = run_cli("space", "--space", "nowhere.yaml")
    assert code == 2
    assert "not found" in err and "'mobile'" in err


@pytest.mark.parametrize("sampler", ["tpe", "gp", "nsga2", "random", "auto"])
def test_every_sampler_proposes_the_same_networks_whichever_way_the_study_stores_them(sampler):
    """The ordinal view (nas.study.sampling.ordinal_view): a study storing values and one storing
    indexes (v3) give the inner sampler the same problem, so the same seed proposes the same
    genotypes, trial for trial (GP and TPE past their start-up trials)."""
    from nas.model.cost import estimate_cost
    from nas.study.sampling.samplers import make_sampler

    space = load_space("mobile")
    keys = {}
    for encoding in ("values", "index"):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(sampler, 7))
        keys[encoding] = []
        for _ in range(14):
            trial = study.ask()
            g = space.sample(trial, 1, 10, encoding)
            flops = estimate_cost(g).flops
            study.tell(trial, [float(g.stages[3].channels + g.stages[2].expansion), float(flops)])
            keys[encoding].append(g.key())
    assert keys["values"] == keys["index"]


@pytest.mark.parametrize("ordered", [False, True])
def test_the_default_sampler_is_tpe_on_unordered_categories_and_gp_where_a_choice_is_ordered(ordered, monkeypatch):
    """Issue 32's rule: GP lost to random search on an all-categorical public table (NB201), TPE
    did not; GP leads where choices are ordered (BENCHMARKS.md §12)."""
    from nas.study.sampling.lean_gp import LeanGPSampler
    from nas.study.sampling.lean_tpe import LeanTPESampler
    from nas.study.sampling.samplers import make_sampler

    used = []
    for cls in (LeanGPSampler, LeanTPESampler):
        def spy(self, study, trial, space, _original=cls.sample_relative, _cls=cls):
            used.append((trial.number, _cls.__name__))
            return _original(self, study, trial, space)
        monkeypatch.setattr(cls, "sample_relative", spy)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler("auto", 0))
    for i in range(14):
        trial = study.ask()
        a = trial.suggest_categorical("op", ["conv", "pool", "skip"])
        b = trial.suggest_categorical("width", [8, 16, 24] if ordered else ["narrow", "wide", "mid"])
        study.tell(trial, [hash((a, str(b))) % 7 / 7, i % 3])
    # from the first result on (before it, nothing tells the structure; start-up trials are random)
    assert {name for number, name in used if number >= 1} == {"LeanGPSampler" if ordered else "LeanTPESampler"}
