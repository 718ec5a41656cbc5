"""Reference architectures written as genotypes, to check the builder against published numbers.

Parameter counts (1000 classes) equal torchvision's: EfficientNet-B0 5,288,548, EfficientNetV2-S
21,458,488, MobileNetV2 3,504,872, ResNet-50 25,557,032. MnasNet-A1 follows the paper's Table
(3.9M params, 312M multiply-adds) and timm's ``mnasnet_a1`` definition.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _efficientnet(name: str) -> Callable[[], Genotype]:
    def make() -> Genotype:
        width, depth, res, dropout = EFFICIENTNET_COEFFICIENTS[name]
        g = scale_genotype(efficientnet_b0(), width, depth, res)
        return g.with_updates(head=g.head.__class__(g.head.channels, "silu", dropout), name=name)
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


ZOO: dict[str, Callable[[], Genotype]] = {
    **{name: _efficientnet(name) for name in EFFICIENTNET_COEFFICIENTS},
    "efficientnetv2_s": efficientnetv2_s,
    "efficientnetv2_m": efficientnetv2_m,
    "efficientnetv2_l": efficientnetv2_l,
    "mobilenet_v2": mobilenet_v2,
    "resnet50": resnet50,
    "mnasnet_a1": mnasnet_a1,
}
ZOO["efficientnet_b0"] = efficientnet_b0


def get_reference(name: str) -> Genotype:
    """A zoo genotype by name (1000 classes, 3 input channels, published resolution)."""
    if name not in ZOO:
        raise UserError(f"unknown architecture {name!r}; zoo names: {allowed(sorted(ZOO))}")
    return ZOO[name]()
