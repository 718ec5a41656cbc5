import io
import math

import pytest
from optuna.trial import TrialState

from nas import Genotype, UserError, get_reference
from nas.arch.space_file import load_space, shipped_spaces
from nas.model.cost import estimate_cost
from nas.report.results import load_study, resolve_trial
from nas.scaling.family import comparison_variants, family_frame, variants_frame
from nas.scaling.landing import land_compound, land_single
from nas.study.scale import GridSettings, run_scaling, scaled
from nas.scaling.grid import nominal_points
from nas.study.store.storage import load_handle

from conftest import run_cli
from search_helpers import FakeTrainer, config, search
from test_genotype import random_genotypes

TOLERANCE = 0.05
# Coefficients a grid search may pick: EfficientNet's, depth-heavy, width-heavy, resolution-only.
COEFFICIENTS = [(1.2, 1.1), (1.6, 1.05), (1.05, 1.3), (1.0, 1.0)]


def _bases() -> dict[str, Genotype]:
    bases = {name: get_reference(name) for name in ("efficientnet_b0", "mobilenet_v2", "resnet50", "mnasnet_a1")}
    for path in shipped_spaces():
        for g in load_space(path).reference_genotypes():
            bases[f"{path.stem}/{g.name}"] = g
    for i, g in enumerate(random_genotypes(n_per_space=2, seed=5)):
        bases[f"random{i}"] = g
    return bases


BASES = _bases()


@pytest.mark.parametrize("name", sorted(BASES))
def test_compound_scaling_lands_within_5_percent_of_the_measured_target_at_phi_1_2_3(name):
    """After rounding (channels to 8, repeats up, whole pixels) the measured FLOPs ratio of every
    family member is within +/-5% of 2^phi, for the reference architectures of the zoo and the
    shipped spaces and for random genotypes; the plain nominal scaling is not (BENCHMARKS §5)."""
    base = BASES[name]
    base_flops = estimate_cost(base).flops
    for alpha, beta in COEFFICIENTS:
        for phi in (1, 2, 3):
            landing = land_compound(base, alpha, beta, 2.0 ** phi, TOLERANCE, phi)
            measured = estimate_cost(landing.genotype).flops / base_flops
            assert measured == pytest.approx(landing.ratio)
            assert abs(measured / 2.0 ** phi - 1) <= TOLERANCE, (alpha, beta, phi, measured)
            assert landing.genotype.resolution == landing.resolution
            assert abs(landing.width_nudge) <= 0.15 + 1e-9


def test_plain_nominal_scaling_misses_the_target_on_a_small_net_and_landing_fixes_it():
    base = load_space("mobile").reference_genotypes()[1]  # mnasnet_tiny, 32 px
    nominal = estimate_cost(scaled(base, 1.2, 1.1, math.sqrt(2 / (1.2 * 1.1 ** 2)))).flops / estimate_cost(base).flops
    assert abs(nominal / 2 - 1) > TOLERANCE  # what issue 12 is about
    assert land_compound(base, 1.2, 1.1, 2.0).within(TOLERANCE)


def test_single_dimension_landing_moves_one_dimension_and_reports_when_it_cannot_land():
    base = load_space("efficientnetv2").reference_genotypes()[-1]  # smallest
    width = land_single(base, "width only", 2.0)
    assert width.within(TOLERANCE) and width.depth_mult == 1.0 and width.resolution == base.resolution
    assert [s.repeats for s in width.genotype.stages] == [s.repeats for s in base.stages]
    res = land_single(base, "resolution only", 2.0)
    assert res.within(TOLERANCE) and res.genotype.stages == base.stages and res.resolution > base.resolution
    depth = land_single(base, "depth only", 2.0)  # 1-block stages: the next block count overshoots
    assert depth.genotype.resolution == base.resolution and depth.width_mult == 1.0
    assert not depth.within(TOLERANCE) and depth.error == pytest.approx(depth.ratio / 2 - 1)
    variants = comparison_variants(base, 1.2, 1.1, 2.0, [1, 2], TOLERANCE)
    frame = variants_frame(base, variants, TOLERANCE)
    assert frame["label"].tolist()[:2] == ["base", "compound x2"] and len(frame) == 9
    assert not frame.set_index("label").loc["depth only x2", "within_tolerance"]
    assert frame.set_index("label").loc["compound x4", "within_tolerance"]


def test_grid_points_satisfy_the_constraint_and_land():
    points = nominal_points(2.0, 0.05)
    assert len(points) > 50
    for p in points:
        assert min(p.alpha, p.beta, p.gamma) >= 1.0
        assert p.nominal_factor == pytest.approx(2.0)
    assert any(p.alpha == 1.0 and p.beta == 1.0 for p in points)  # resolution-only lies on the grid
    base = load_space("mobile").reference_genotypes()[1]
    plan = GridSettings(2.0, 0.05, TOLERANCE).plan(base)
    keys = [gp.landing.genotype.key() for gp in plan.points]
    assert len(keys) == len(set(keys))  # each network trained once
    assert len(plan.points) + len(plan.out_of_tolerance) + plan.duplicates == len(points)
    assert all(gp.landing.within(TOLERANCE) for gp in plan.points)
    assert "distinct networks land within +/-5%" in plan.describe(TOLERANCE, 2.0)
    with pytest.raises(UserError, match="--tolerance"):
        GridSettings(2.0, 0.05, 0.0).plan(base)


def test_family_frame_records_nominal_beside_measured_and_lands_every_step():
    b0 = get_reference("efficientnet_b0")
    fam = family_frame(b0, 1.2, 1.1, 1.15, 2.0, 3)
    assert list(fam["phi"]) == [0, 1, 2, 3]
    assert fam["flops_ratio"].iloc[0] == 1.0 and fam["within_tolerance"].all()
    for _, r in fam.iterrows():
        assert abs(r["flops_ratio"] / 2.0 ** r["phi"] - 1) <= TOLERANCE
        assert r["nominal_depth"] == pytest.approx(1.2 ** r["phi"])
        assert r["nominal_resolution"] == pytest.approx(224 * 1.15 ** r["phi"])
        assert estimate_cost(Genotype.from_json(r["genotype"])).flops == r["flops"]


@pytest.fixture
def small_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return search(config(tmp_path, trials=4), FakeTrainer())


def test_scale_trains_every_landed_point_once_resumes_and_writes_family(small_study, tmp_path, monkeypatch):
    trainer = FakeTrainer()
    calls = {"n": 0}

    def interrupting(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return trainer(*args, **kw)

    handle = load_handle(None, "t")
    base = Genotype.from_json(resolve_trial(handle.study, "best").user_attrs["genotype"])
    grid = GridSettings(2.0, 0.1, TOLERANCE)
    kw = dict(grid=grid, phi_max=3, out=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        run_scaling(handle, base, "best", trainer=interrupting, **kw)
    plan = grid.plan(base)
    assert len(plan.points) >= 3  # a 16 px net: most grid points round to the same few networks
    storage = f"journal:{tmp_path / 'results/t/journal.log'}"
    partial = load_study("t-scale", storage)
    assert sum(t.state == TrialState.COMPLETE for t in partial.trials) == 2
    # Resume: the interrupted point is trained again; every landed point once.
    result = run_scaling(handle, base, "best", trainer=trainer, **kw)
    done = [t for t in load_study("t-scale", storage).trials
            if t.state == TrialState.COMPLETE]
    assert len(done) == len(plan.points)
    assert len({t.user_attrs["key"] for t in done}) == len(plan.points)
    for t in done:
        a = t.user_attrs
        assert a["alpha"] * a["beta"] ** 2 * a["gamma"] ** 2 == pytest.approx(2.0)
        assert abs(a["flops_ratio"] / 2.0 - 1) <= TOLERANCE
    # The fake trainer's accuracy grows with FLOPs: the best point is the one with most FLOPs.
    best = max(done, key=lambda t: t.values[0])
    assert (result.alpha, result.beta) == (best.user_attrs["alpha"], best.user_attrs["beta"])
    family = result.family
    folder = tmp_path / "results/t/scaled"
    for _, row in family.iterrows():
        phi = int(row["phi"])
        assert abs(row["flops_ratio"] / 2.0 ** phi - 1) <= TOLERANCE
        g = Genotype.from_json((folder / f"phi{phi}.json").read_text())
        assert estimate_cost(g).flops == row["flops"]
    scaling = load_handle(None, "t").study.user_attrs["scaling"]
    assert scaling["alpha"] == result.alpha and scaling["tolerance"] == TOLERANCE


def test_cli_scale_compare_single_and_family_retrain_score_on_test_and_export_lands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config(tmp_path)  # writes the tiny space file
    code, _, err = run_cli("search", "--space", str(tmp_path / "tiny.yaml"), "--dataset", "digits", "--trials", "3",
                           "--epochs", "0.2", "--study", "s", "--no-progress", "--sampler", "random")
    assert code == 0, err
    code, out, err = run_cli("scale", "--study", "s", "--arch", "best", "--grid-step", "0.5", "--phi-max", "1",
                             "--compare-single", "--final-epochs", "0.2", "--seeds", "2")
    assert code == 0, err
    assert "compound versus single-dimension scaling" in out and "held-out test split" in out
    import pandas as pd
    compare = pd.read_csv(tmp_path / "results/s/scaled/compare_single_test.csv")
    assert compare["label"].tolist() == ["base", "compound x2", "depth only x2", "width only x2", "resolution only x2"]
    landed = compare[compare["within_tolerance"]]
    assert (landed["seeds_done"] == 2).all() and landed["test_acc_mean"].between(0, 1).all()
    assert (compare.loc[~compare["within_tolerance"], "seeds_done"] == 0).all()  # skipped, not trained
    family = pd.read_csv(tmp_path / "results/s/scaled/family_test.csv")
    assert family["label"].tolist() == ["phi0", "phi1"] and (family["seeds_done"] == 2).all()
    # The base and compound x2 are phi0 and phi1: one retrain run each per seed, shared.
    assert set(family["key"]) <= set(landed["key"])
    code, out, err = run_cli("export", "--study", "s", "--scaled", "1", "--format", "json", "--out", str(tmp_path / "e"))
    assert code == 0, err
    exported = Genotype.from_json((tmp_path / "e/genotype.json").read_text())
    assert exported.key() == family.loc[1, "key"]
    code, out, err = run_cli("scale", "--study", "s", "--seeds", "2")
    assert code == 2 and "--final-epochs" in err
