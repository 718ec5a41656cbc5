"""Reference architectures written as genotypes, to check the builder against published numbers.

Parameter counts (1000 classes) equal torchvision's: EfficientNet-B0 5,288,548, EfficientNetV2-S
21,458,488, MobileNetV2 3,504,872, ResNet-50 25,557,032, MobileNetV3-Large 5,483,032 and -Small
2,542,856, MnasNet-B1 (``mnasnet1_0``) 4,383,312. MnasNet-A1 follows the paper's Table (3.9M
params, 312M multiply-adds) and timm's ``mnasnet_a1`` definition; EfficientNet-Lite0-4 follow
TensorFlow's reference implementation (timm's ``_gen_efficientnet_lite``: about 4.65M and 13.01M
parameters for Lite0 and Lite4).

MobileNetV3's blocks each have their own expanded width (64, 72, 120, 240, 200, 184, ...); a
genotype writes one stage per run of blocks that share kernel, expansion ratio, SE and activation,
so the expanded widths come out exactly (e.g. 184 = 80 x 2.3, 88 = 24 x 3.67 rounded to 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .arch_string import parse_stage
from ..errors import UserError, allowed
from .genotype import Genotype, Head, Stem
from .rounding import scale_genotype


def _stages(*arch: str) -> tuple:
    return tuple(parse_stage(a, f"zoo stage {i}") for i, a in enumerate(arch))


def efficientnet_b0() -> Genotype:
    return Genotype(
        stem=Stem(32, 3, 2, "silu"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_se0.25_nsw",
            "mb_r2_k3_s2_e6_c24_se0.25_nsw",
            "mb_r2_k5_s2_e6_c40_se0.25_nsw",
            "mb_r3_k3_s2_e6_c80_se0.25_nsw",
            "mb_r3_k5_s1_e6_c112_se0.25_nsw",
            "mb_r4_k5_s2_e6_c192_se0.25_nsw",
            "mb_r1_k3_s1_e6_c320_se0.25_nsw"),
        head=Head(1280, "silu", 0.2), resolution=224, drop_path_rate=0.2, name="efficientnet_b0")


# (width, depth, resolution, dropout), from the EfficientNet paper / torchvision.
EFFICIENTNET_COEFFICIENTS: dict[str, tuple[float, float, int, float]] = {
    "efficientnet_b0": (1.0, 1.0, 224, 0.2),
    "efficientnet_b1": (1.0, 1.1, 240, 0.2),
    "efficientnet_b2": (1.1, 1.2, 260, 0.3),
    "efficientnet_b3": (1.2, 1.4, 300, 0.3),
    "efficientnet_b4": (1.4, 1.8, 380, 0.4),
    "efficientnet_b5": (1.6, 2.2, 456, 0.4),
    "efficientnet_b6": (1.8, 2.6, 528, 0.5),
    "efficientnet_b7": (2.0, 3.1, 600, 0.5),
}


def _scaled(base: Callable[[], Genotype], coefficients: dict[str, tuple[float, float, int, float]],
            name: str) -> Callable[[], Genotype]:
    """A family member: ``base`` scaled by its published (width, depth, resolution, dropout),
    under the base's own scaling rule."""
    def make() -> Genotype:
        width, depth, res, dropout = coefficients[name]
        g = scale_genotype(base(), width, depth, res)
        return g.with_updates(head=replace(g.head, dropout=dropout), name=name)
    return make


def _v2(name: str, stem: int, arch: tuple[str, ...], res: int, dropout: float) -> Callable[[], Genotype]:
    def make() -> Genotype:
        return Genotype(stem=Stem(stem, 3, 2, "silu"), stages=_stages(*arch),
                        head=Head(1280, "silu", dropout), resolution=res, drop_path_rate=0.2,
                        name=name)
    return make


efficientnetv2_s = _v2("efficientnetv2_s", 24, (
    "fmb_r2_k3_s1_e1_c24_nsw", "fmb_r4_k3_s2_e4_c48_nsw", "fmb_r4_k3_s2_e4_c64_nsw",
    "mb_r6_k3_s2_e4_c128_se0.25_nsw", "mb_r9_k3_s1_e6_c160_se0.25_nsw",
    "mb_r15_k3_s2_e6_c256_se0.25_nsw"), 384, 0.2)
efficientnetv2_m = _v2("efficientnetv2_m", 24, (
    "fmb_r3_k3_s1_e1_c24_nsw", "fmb_r5_k3_s2_e4_c48_nsw", "fmb_r5_k3_s2_e4_c80_nsw",
    "mb_r7_k3_s2_e4_c160_se0.25_nsw", "mb_r14_k3_s1_e6_c176_se0.25_nsw",
    "mb_r18_k3_s2_e6_c304_se0.25_nsw", "mb_r5_k3_s1_e6_c512_se0.25_nsw"), 480, 0.3)
efficientnetv2_l = _v2("efficientnetv2_l", 32, (
    "fmb_r4_k3_s1_e1_c32_nsw", "fmb_r7_k3_s2_e4_c64_nsw", "fmb_r7_k3_s2_e4_c96_nsw",
    "mb_r10_k3_s2_e4_c192_se0.25_nsw", "mb_r19_k3_s1_e6_c224_se0.25_nsw",
    "mb_r25_k3_s2_e6_c384_se0.25_nsw", "mb_r7_k3_s1_e6_c640_se0.25_nsw"), 480, 0.4)


def mobilenet_v2() -> Genotype:
    return Genotype(
        stem=Stem(32, 3, 2, "relu6"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_nr6", "mb_r2_k3_s2_e6_c24_nr6", "mb_r3_k3_s2_e6_c32_nr6",
            "mb_r4_k3_s2_e6_c64_nr6", "mb_r3_k3_s1_e6_c96_nr6", "mb_r3_k3_s2_e6_c160_nr6",
            "mb_r1_k3_s1_e6_c320_nr6"),
        head=Head(1280, "relu6", 0.2), resolution=224, name="mobilenet_v2")


def resnet50() -> Genotype:
    return Genotype(
        stem=Stem(64, 7, 2, "relu", pool=True),
        stages=_stages(
            "resb_r3_k3_s1_e4_c256_nre", "resb_r4_k3_s2_e4_c512_nre",
            "resb_r6_k3_s2_e4_c1024_nre", "resb_r3_k3_s2_e4_c2048_nre"),
        head=Head(0, "relu", 0.0), resolution=224, name="resnet50")


def mnasnet_a1() -> Genotype:
    return Genotype(
        stem=Stem(32, 3, 2, "relu"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_nre_noskip", "mb_r2_k3_s2_e6_c24_nre",
            "mb_r3_k5_s2_e3_c40_se0.25_nre", "mb_r4_k3_s2_e6_c80_nre",
            "mb_r2_k3_s1_e6_c112_se0.25_nre", "mb_r3_k5_s2_e6_c160_se0.25_nre",
            "mb_r1_k3_s1_e6_c320_nre"),
        head=Head(1280, "relu", 0.2), resolution=224, name="mnasnet_a1")


def mobilenet_v3_large() -> Genotype:
    """torchvision's ``mobilenet_v3_large``: hard-swish stem and late blocks, MobileNetV3's SE
    (``hse``: hard-sigmoid gate, squeeze from the expanded width), a 960-wide 1x1 head and a
    1280-wide hidden linear layer before the classifier."""
    return Genotype(
        stem=Stem(16, 3, 2, "hardswish"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_nre", "mb_r1_k3_s2_e4_c24_nre", "mb_r1_k3_s1_e3_c24_nre",
            "mb_r1_k5_s2_e3_c40_hse0.25_nre", "mb_r2_k5_s1_e3_c40_hse0.25_nre",
            "mb_r1_k3_s2_e6_c80_nhs", "mb_r1_k3_s1_e2.5_c80_nhs", "mb_r2_k3_s1_e2.3_c80_nhs",
            "mb_r2_k3_s1_e6_c112_hse0.25_nhs", "mb_r3_k5_s2_e6_c160_hse0.25_nhs"),
        head=Head(960, "hardswish", 0.2, hidden=1280), resolution=224, name="mobilenet_v3_large")


def mobilenet_v3_small() -> Genotype:
    """torchvision's ``mobilenet_v3_small``: its first block has SE and no expansion conv."""
    return Genotype(
        stem=Stem(16, 3, 2, "hardswish"),
        stages=_stages(
            "mb_r1_k3_s2_e1_c16_hse0.25_nre", "mb_r1_k3_s2_e4.5_c24_nre", "mb_r1_k3_s1_e3.67_c24_nre",
            "mb_r1_k5_s2_e4_c40_hse0.25_nhs", "mb_r2_k5_s1_e6_c40_hse0.25_nhs",
            "mb_r2_k5_s1_e3_c48_hse0.25_nhs", "mb_r3_k5_s2_e6_c96_hse0.25_nhs"),
        head=Head(576, "hardswish", 0.2, hidden=1024), resolution=224, name="mobilenet_v3_small")


def mnasnet_b1() -> Genotype:
    """torchvision's ``mnasnet1_0``: a depthwise-separable first stage, no SE, ReLU."""
    return Genotype(
        stem=Stem(32, 3, 2, "relu"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_nre_noskip", "mb_r3_k3_s2_e3_c24_nre", "mb_r3_k5_s2_e3_c40_nre",
            "mb_r3_k5_s2_e6_c80_nre", "mb_r2_k3_s1_e6_c96_nre", "mb_r4_k5_s2_e6_c192_nre",
            "mb_r1_k3_s1_e6_c320_nre"),
        head=Head(1280, "relu", 0.2), resolution=224, name="mnasnet_b1")


def efficientnet_lite0() -> Genotype:
    """EfficientNet-B0 for mobile accelerators and int8: no SE, ReLU6, and the ``lite`` scaling
    rule (stem and head widths, first and last stages' depth fixed)."""
    return Genotype(
        stem=Stem(32, 3, 2, "relu6"),
        stages=_stages(
            "mb_r1_k3_s1_e1_c16_nr6", "mb_r2_k3_s2_e6_c24_nr6", "mb_r2_k5_s2_e6_c40_nr6",
            "mb_r3_k3_s2_e6_c80_nr6", "mb_r3_k5_s1_e6_c112_nr6", "mb_r4_k5_s2_e6_c192_nr6",
            "mb_r1_k3_s1_e6_c320_nr6"),
        head=Head(1280, "relu6", 0.2), resolution=224, drop_path_rate=0.2, name="efficientnet_lite0",
        scaling_rule="lite")


# (width, depth, resolution, dropout) of TensorFlow's EfficientNet-Lite (efficientnet_lite_builder;
# timm's _gen_efficientnet_lite docstring). Lite4 at 300 px as published there, not B4's 380 px
# (some ports copy B4's).
EFFICIENTNET_LITE_COEFFICIENTS: dict[str, tuple[float, float, int, float]] = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
    "efficientnet_lite3": (1.2, 1.4, 280, 0.3),
    "efficientnet_lite4": (1.4, 1.8, 300, 0.3),
}


ZOO: dict[str, Callable[[], Genotype]] = {
    **{name: _scaled(efficientnet_b0, EFFICIENTNET_COEFFICIENTS, name) for name in EFFICIENTNET_COEFFICIENTS},
    "efficientnetv2_s": efficientnetv2_s,
    "efficientnetv2_m": efficientnetv2_m,
    "efficientnetv2_l": efficientnetv2_l,
    "mobilenet_v2": mobilenet_v2,
    "resnet50": resnet50,
    "mnasnet_a1": mnasnet_a1,
    "mnasnet_b1": mnasnet_b1,
    "mobilenet_v3_large": mobilenet_v3_large,
    "mobilenet_v3_small": mobilenet_v3_small,
    **{name: _scaled(efficientnet_lite0, EFFICIENTNET_LITE_COEFFICIENTS, name)
       for name in EFFICIENTNET_LITE_COEFFICIENTS},
}
ZOO["efficientnet_b0"] = efficientnet_b0


def get_reference(name: str) -> Genotype:
    """A zoo genotype by name (1000 classes, 3 input channels, published resolution)."""
    if name not in ZOO:
        raise UserError(f"unknown architecture {name!r}; zoo names: {allowed(sorted(ZOO))}")
    return ZOO[name]()
