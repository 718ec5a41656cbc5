"""The analytic estimator must agree with fvcore (the toolkit's FLOPs convention)."""

import optuna
import pytest

from nas import ZOO, build_model, count_flops, count_params, estimate_cost, get_reference
from nas.model.cost import measure_cost
from nas.arch.space_file import load_space, shipped_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_analytic_estimate_matches_fvcore_on_zoo(name):
    g = get_reference(name)
    model = build_model(g)
    est = estimate_cost(g)
    flops = count_flops(model)
    assert est.params == count_params(model)
    assert abs(est.flops - flops) / flops < 0.01


@pytest.mark.parametrize("space_path", shipped_spaces(), ids=lambda p: p.stem)
def test_analytic_estimate_matches_fvcore_on_60_random_genotypes(space_path):
    space = load_space(space_path)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    worst = 0.0
    for i in range(60):  # 6 spaces x 60: the suite stays under 10 minutes
        trial = study.ask()
        # Vary input channels / classes too, as datasets do.
        g = space.sample(trial, in_channels=1 + 2 * (i % 2), num_classes=10 + i % 3)
        study.tell(trial, 0.0)
        model = build_model(g)
        est = estimate_cost(g)
        assert est.params == count_params(model), g.arch
        flops = count_flops(model)
        worst = max(worst, abs(est.flops - flops) / flops)
    assert worst < 0.01


def test_per_stage_breakdown_matches_fvcore():
    g = get_reference("mnasnet_a1")
    est, meas = estimate_cost(g), measure_cost(build_model(g))
    assert est.stage_flops == meas.stage_flops
    assert est.stage_params == meas.stage_params
    assert (est.stem_flops, est.head_flops) == (meas.stem_flops, meas.head_flops)
    assert est.stem_flops + sum(est.stage_flops) + est.head_flops == est.flops


def test_flops_follow_resolution_quadratically():
    g = get_reference("resnet50")
    small, big = estimate_cost(g.with_updates(resolution=112)), estimate_cost(g)
    assert 3.6 < big.flops / small.flops < 4.2
    assert small.params == big.params
