import io
import math

import optuna
import pytest
from optuna.trial import TrialState

from nas import Genotype, UserError, get_reference
from nas.model.cost import estimate_cost
from nas.report.results import resolve_trial
from nas.study.scale import GridSettings, family_frame, grid_points, run_scaling, scaled
from nas.study.storage import load_handle

from search_helpers import FakeTrainer, config, search


def test_grid_points_satisfy_the_constraint():
    points = grid_points(2.0, 0.05, 0.10)
    assert len(points) > 50
    for p in points:
        assert min(p.alpha, p.beta, p.gamma) >= 1.0
        assert abs(p.alpha * p.beta ** 2 * p.gamma ** 2 - 2.0) <= 0.2 + 1e-9
    assert any(p.alpha == 1.0 and p.beta == 1.0 for p in points)  # resolution-only lies on the grid
    with pytest.raises(UserError):
        grid_points(2.0, 0.3, 0.0)  # no point on a 0.3 grid hits exactly 2


def test_family_of_b0_with_published_coefficients_records_measured_beside_nominal():
    """EfficientNet's alpha=1.2, beta=1.1, gamma=1.15 (nominal 1.92 per step). Rounding repeats
    up turns B0's 1-block stages into 2 blocks at phi=1, so measured FLOPs exceed nominal
    (x2.55 at phi=1); the excess shrinks as repeats grow. Channels may round down by <10%."""
    b0 = get_reference("efficientnet_b0")
    fam = family_frame(b0, 1.2, 1.1, 1.15, 3)
    assert list(fam["phi"]) == [0, 1, 2, 3]
    assert list(fam["flops"]) == sorted(fam["flops"])
    excess = (fam["flops_ratio"] / fam["nominal_ratio"]).tolist()
    assert excess[0] == 1.0
    assert all(0.9 <= e <= 1.4 for e in excess)
    assert excess[3] < excess[1]


@pytest.fixture
def small_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return search(config(tmp_path, trials=4), FakeTrainer())


def test_scale_trains_every_grid_point_resumes_and_writes_family(small_study, tmp_path, monkeypatch):
    trainer = FakeTrainer()
    calls = {"n": 0}

    def interrupting(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return trainer(*args, **kw)

    handle = load_handle(None, "t")
    base = Genotype.from_json(resolve_trial(handle.study, "best").user_attrs["genotype"])
    kw = dict(grid=GridSettings(2.0, 0.1, 0.1), phi_max=3, out=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        run_scaling(handle, base, "best", trainer=interrupting, **kw)
    points = grid_points(2.0, 0.1, 0.1)
    storage = f"sqlite:///{tmp_path / 'results/t/study.db'}"
    partial = optuna.load_study(study_name="t-scale", storage=storage)
    assert sum(t.state == TrialState.COMPLETE for t in partial.trials) == 3
    # Resume: the interrupted point is trained again; every point once.
    result = run_scaling(handle, base, "best", trainer=trainer, **kw)
    done = [t for t in optuna.load_study(study_name="t-scale", storage=storage).trials
            if t.state == TrialState.COMPLETE]
    assert len(done) == len(points)
    assert len({t.params["point"] for t in done}) == len(points)
    for t in done:
        a = t.user_attrs
        assert abs(a["alpha"] * a["beta"] ** 2 * a["gamma"] ** 2 - 2.0) <= 0.2 + 1e-9
        assert a["flops_ratio"] > 1.0
    # The fake trainer's accuracy grows with FLOPs: the best point is the one with most FLOPs.
    best = max(done, key=lambda t: t.values[0])
    assert (result["alpha"], result["beta"], result["gamma"]) == (best.user_attrs["alpha"], best.user_attrs["beta"], best.user_attrs["gamma"])
    family = result["family"]
    # Measured FLOPs grow by about 2^phi. Tolerance: the grid allows +/-10% per step, and on a
    # net this small (8-32 channels, 16 px) rounding channels to multiples of 8 and feature maps
    # up after stride 2 add up to ~40% at phi=1, shrinking per step as phi grows; so the mean
    # per-step growth factor must lie within [2/1.5, 2*1.5].
    for phi, ratio in zip(family["phi"][1:], family["flops_ratio"][1:]):
        per_step = ratio ** (1 / phi)
        assert 2 / 1.5 <= per_step <= 2 * 1.5, (phi, ratio)
    folder = tmp_path / "results/t/scaled"
    for phi in (1, 2, 3):
        g = Genotype.from_json((folder / f"phi{phi}.json").read_text())
        assert estimate_cost(g).flops == family.loc[family["phi"] == phi, "flops"].item()
    assert load_handle(None, "t").study.user_attrs["scaling"]["alpha"] == result["alpha"]


def test_scaled_genotype_follows_rounding_rules():
    g = get_reference("efficientnet_b0")
    s = scaled(g, 1.2, 1.1, 1.15, 1)
    assert s.resolution == round(224 * 1.15)
    assert all(st.channels % 8 == 0 for st in s.stages)
    assert [st.repeats for st in s.stages] == [math.ceil(st.repeats * 1.2) for st in g.stages]
