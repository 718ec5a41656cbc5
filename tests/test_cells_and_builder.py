import pytest
import torch

from nas import Genotype, Head, Stem, build_model, count_params, scale_genotype
from nas.arch.arch_string import parse_stage
from nas.arch.rounding import make_divisible


def tiny(stage: str, in_channels: int = 3) -> Genotype:
    return Genotype(stem=Stem(8, 3, 1, "relu"), stages=(parse_stage(stage),),
                    head=Head(16, "relu", 0.0), resolution=16, in_channels=in_channels,
                    num_classes=4, drop_path_rate=0.1)


@pytest.mark.parametrize("stage,identity_blocks", [
    ("mb_r2_k3_s1_e1_c8_se0.25_nsw", 2),       # depthwise-separable, identity skips
    ("mb_r2_k5_s2_e6_c16_nre", 1),             # first block changes shape
    ("mb_r2_k3_s1_e4_c8_nre_noskip", 0),
    ("fmb_r2_k3_s1_e4_c8_se0.25_nsw", 2),
    ("fmb_r2_k3_s2_e1_c16_nsw", 1),
    ("res_r2_k3_s1_c8_nre", 2),
    ("resb_r2_k3_s2_e4_c32_nre", 1),
])
def test_every_cell_builds_runs_and_back_propagates(stage, identity_blocks):
    model = build_model(tiny(stage))
    blocks = list(model.stages[0])
    assert sum(b.use_identity for b in blocks) == identity_blocks
    x = torch.randn(4, 3, 16, 16)
    out = model(x)
    out.sum().backward()
    assert out.shape == (4, 4)
    assert all(p.grad is not None for p in model.parameters())


def test_residual_cells_project_shortcuts_where_shapes_change():
    model = build_model(tiny("resb_r2_k3_s2_e4_c32_nre"))
    first, second = model.stages[0]
    assert isinstance(first.shortcut, torch.nn.Sequential)  # 1x1 conv + BN projection
    assert isinstance(second.shortcut, torch.nn.Identity)
    mb = build_model(tiny("mb_r1_k3_s2_e4_c16_nre")).stages[0][0]
    assert not mb.use_residual  # MBConv drops the skip instead of projecting


def test_stochastic_depth_grows_linearly_with_block_index():
    g = tiny("mb_r4_k3_s1_e1_c8_nre").with_updates(drop_path_rate=0.2)
    rates = [b.drop_path.p for b in build_model(g).stages[0]]
    assert rates == pytest.approx([0.0, 0.05, 0.1, 0.15])


def test_bottleneck_inner_width_is_channels_over_expansion():
    model = build_model(tiny("resb_r1_k3_s1_e4_c32_nre"))
    assert model.stages[0][0].body[0][0].out_channels == 8


def test_se_is_sized_from_block_input_channels():
    model = build_model(tiny("mb_r1_k3_s1_e6_c16_se0.25_nsw"))
    se = model.stages[0][0].body[2]
    assert se.reduce.in_channels == 48 and se.reduce.out_channels == 2  # 8 in * 0.25


def test_make_divisible_follows_efficientnet_rounding():
    assert make_divisible(32 * 1.1) == 32      # 35.2 -> 32 (>= 90%)
    assert make_divisible(40 * 1.1) == 48      # 44 -> 48
    assert make_divisible(20) == 24            # 20 -> 24 (rounds half up)
    assert make_divisible(9.5) == 8 + 8 or make_divisible(9.5) == 8
    for v in (10.0, 13.7, 37.0, 123.2, 3000.4):
        r = make_divisible(v)
        assert r % 8 == 0 and r >= 0.9 * v


def test_depth_rounds_up_and_width_rounds_to_eight():
    g = tiny("mb_r3_k3_s1_e4_c20_nre")
    s = scale_genotype(g, width_mult=1.3, depth_mult=1.1)
    assert s.stages[0].repeats == 4            # ceil(3.3)
    assert s.stages[0].channels == 24          # make_divisible(26)
    assert s.head.channels == make_divisible(16 * 1.3)
    assert count_params(build_model(g, 1.3, 1.1)) == count_params(build_model(s))


def test_torchscript_scripting_matches_eager():
    model = build_model(tiny("mb_r2_k3_s1_e4_c8_se0.25_nsw")).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(scripted(x), model(x))
