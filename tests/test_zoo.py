"""The builder must reproduce published architectures to the parameter."""

import pytest
import torch

from nas import build_model, count_params, estimate_cost, get_reference
from nas.model.cost import _fvcore_analysis

# torchvision's published parameter counts (1000 classes).
TORCHVISION_PARAMS = {
    "efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232, "efficientnet_b4": 19_341_616, "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704, "efficientnet_b7": 66_347_960,
    "efficientnetv2_s": 21_458_488, "efficientnetv2_m": 54_139_356, "efficientnetv2_l": 118_515_272,
    "mobilenet_v2": 3_504_872, "resnet50": 25_557_032,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_parameter_count_equals_torchvision(name):
    g = get_reference(name)
    assert count_params(build_model(g)) == TORCHVISION_PARAMS[name]
    assert estimate_cost(g).params == TORCHVISION_PARAMS[name]


def test_efficientnet_b0_fvcore_flops_match_published_figure():
    g = get_reference("efficientnet_b0")
    flops = _fvcore_analysis(build_model(g), 224, 3).total()
    assert abs(flops - 401.7e6) / 401.7e6 < 0.005


def test_mnasnet_a1_matches_paper():
    """Paper: 3.9M params, 312M multiply-adds (convolutions and the classifier)."""
    g = get_reference("mnasnet_a1")
    model = build_model(g)
    assert round(count_params(model) / 1e6, 1) == 3.9
    ops = _fvcore_analysis(model, 224, 3).by_operator()
    macs = ops["conv"] + ops["linear"]
    assert abs(macs - 312e6) / 312e6 < 0.005


def test_scaled_b0_equals_published_b4():
    """B1-B7 are B0 plus published coefficients: scaling B0 by hand gives the same network."""
    b4 = build_model(get_reference("efficientnet_b0"), width_mult=1.4, depth_mult=1.8, resolution=380)
    assert count_params(b4) == TORCHVISION_PARAMS["efficientnet_b4"]
    assert b4.genotype.resolution == 380


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnetv2_s", "mobilenet_v2", "resnet50", "mnasnet_a1"])
def test_zoo_models_run_forward(name):
    g = get_reference(name).with_updates(resolution=64, num_classes=7)
    model = build_model(g).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
