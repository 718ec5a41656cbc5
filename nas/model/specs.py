"""Expand a genotype into one concrete spec per block.

Every derived number (expanded width, SE width, shortcut kind, stride, stochastic-depth rate)
is decided here once. The module builder and the analytic cost model both read these specs,
so they cannot disagree about what a genotype means.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.genotype import Genotype, Stage
from ..arch.rounding import make_divisible


@dataclass(frozen=True)
class BlockSpec:
    stage_index: int
    cell: str
    in_channels: int
    out_channels: int
    mid_channels: int  # expanded width (mb/fmb), inner width (resb), = out (res)
    kernel: int
    stride: int
    se_channels: int  # 0: no squeeze-and-excitation
    activation: str
    shortcut: str  # "identity", "projection" or "none"
    drop_path: float
    se_style: str = "efficientnet"  # nas.arch.fields.SE_STYLES: gate and activation inside the SE

    @property
    def has_expand(self) -> bool:
        """mb/fmb only: whether an expansion conv exists (expanded width differs from input)."""
        return self.mid_channels != self.in_channels


def expanded_channels(in_channels: int, stage: Stage) -> int:
    if stage.cell in ("mb", "fmb"):
        return make_divisible(in_channels * stage.expansion)
    if stage.cell == "resb":
        return max(1, int(round(stage.channels / stage.expansion)))
    return stage.channels


def se_channels(in_channels: int, stage: Stage, gated: int) -> int:
    """SE width: from the block's *input* channels (EfficientNet/MnasNet), or for MobileNetV3's SE
    from the ``gated`` (expanded) channels, rounded to a multiple of 8 as torchvision does."""
    if stage.se_ratio <= 0:
        return 0
    if stage.se_style == "mobilenetv3":
        return make_divisible(gated * stage.se_ratio)
    return max(1, int(in_channels * stage.se_ratio))


def gated_channels(cell: str, in_ch: int, mid_ch: int, out_ch: int) -> int:
    """The channels an SE gates: the expanded width (fused-MBConv without expansion: its output)."""
    return out_ch if cell == "fmb" and mid_ch == in_ch else mid_ch


def shortcut_kind(cell: str, in_ch: int, out_ch: int, stride: int, skip: bool) -> str:
    if not skip:
        return "none"
    if stride == 1 and in_ch == out_ch:
        return "identity"
    # Residual cells keep a projected shortcut where shapes change (ResNet); MBConv drops it.
    return "projection" if cell in ("res", "resb") else "none"


def stage_block_specs(stage: Stage, stage_index: int, in_channels: int, first_block: int = 0,
                      total_blocks: int = 1, drop_path_rate: float = 0.0) -> list[BlockSpec]:
    """Specs of one stage's blocks given its input channels (stochastic depth by global index)."""
    specs = []
    in_ch = in_channels
    for r in range(stage.repeats):
        stride = stage.stride if r == 0 else 1
        out_ch = stage.channels
        mid_ch = expanded_channels(in_ch, stage)
        specs.append(BlockSpec(
            stage_index=stage_index, cell=stage.cell, in_channels=in_ch, out_channels=out_ch,
            mid_channels=mid_ch, kernel=stage.kernel, stride=stride,
            se_channels=se_channels(in_ch, stage, gated_channels(stage.cell, in_ch, mid_ch, out_ch)),
            activation=stage.activation,
            shortcut=shortcut_kind(stage.cell, in_ch, out_ch, stride, stage.skip),
            drop_path=drop_path_rate * (first_block + r) / total_blocks, se_style=stage.se_style))
        in_ch = out_ch
    return specs


def block_specs(g: Genotype) -> list[BlockSpec]:
    """One spec per block, in order; stochastic depth grows linearly with the block index."""
    specs: list[BlockSpec] = []
    in_ch = g.stem.channels
    for si, stage in enumerate(g.stages):
        specs += stage_block_specs(stage, si, in_ch, len(specs), g.num_blocks, g.drop_path_rate)
        in_ch = stage.channels
    return specs


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a conv with padding k//2 (and after the 3x3/2 pad-1 max-pool)."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1
