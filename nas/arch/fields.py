"""A stage's vocabulary, declared once.

Every choosable field of a stage is one :class:`StageField` row. From this table are derived: the
genotype's per-field validation, a search-space file's keys and checks, the space's sampling and
its Optuna parameter names (``s{i}_<name>``), :meth:`SearchSpace.params_for`, and the trials
DataFrame's columns (``s{i}_<name>``): the parameter and the column of a choice have one name.

Adding a field: a row here plus the attribute on :class:`nas.arch.genotype.Stage` (and on
``StageChoices``, named by ``plural``); the block specs decide what it means for the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import allowed

CELL_TYPES = ("mb", "fmb", "res", "resb")
"""mb: MBConv (inverted residual, depthwise k x k; expansion 1 = depthwise-separable).
fmb: fused-MBConv (k x k expanding conv + 1x1 projection; a single k x k conv when expansion 1).
res: residual basic cell (two k x k convs).
resb: residual bottleneck (1x1 - k x k - 1x1; inner width = channels / expansion)."""

ACTIVATIONS = ("relu", "relu6", "silu", "hardswish")
STRIDES = (1, 2)
SE_STYLES = ("efficientnet", "mobilenetv3")
"""efficientnet: squeeze = the block's input channels x se_ratio, the cell's activation inside,
sigmoid gate (EfficientNet, MnasNet). mobilenetv3: squeeze = the gated (expanded) channels x
se_ratio rounded to a multiple of 8, ReLU inside, hard-sigmoid gate (MobileNetV3)."""
SCALING_RULES = ("efficientnet", "lite")
"""How compound scaling treats a genotype: efficientnet scales every width and depth; lite keeps
the stem and head widths and the first and last stages' depth (EfficientNet-Lite)."""


@dataclass(frozen=True)
class StageField:
    """One choosable field of a stage."""

    name: str  # Stage attribute; Optuna parameter and DataFrame column are f"s{i}_{name}"
    plural: str  # key in a search-space file, attribute of StageChoices
    kind: type  # int, float or str (a float field accepts integers)
    check: Callable[[Any], bool]
    rule: str  # what is allowed, in words, for error messages
    default: tuple[Any, ...] | None = None  # the choices when a space file omits the key
    aliases: tuple[str, ...] = ()  # other keys a space file may use for it

    def param(self, stage_index: int) -> str:
        """The Optuna parameter (and trials-frame column) of this field in stage ``stage_index``."""
        return f"s{stage_index}_{self.name}"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        ok_type = isinstance(value, self.kind) or (self.kind is float and isinstance(value, int))
        return ok_type and self.check(value)


def _odd(v: int) -> bool:
    return v >= 1 and v % 2 == 1


STAGE_FIELDS: tuple[StageField, ...] = (
    StageField("cell", "cells", str, lambda v: v in CELL_TYPES, f"one of {allowed(CELL_TYPES)}"),
    StageField("kernel", "kernels", int, _odd, "an odd integer >= 1"),
    StageField("expansion", "expansions", float, lambda v: v >= 1, "a number >= 1", default=(1.0,)),
    StageField("se_ratio", "se_ratios", float, lambda v: 0 <= v <= 1, "a number in [0, 1]", default=(0.0,)),
    StageField("repeats", "repeats", int, lambda v: v >= 1, "an integer >= 1"),
    StageField("channels", "channels", int, lambda v: v >= 1, "an integer >= 1"),
    StageField("activation", "activations", str, lambda v: v in ACTIVATIONS,
               f"one of {allowed(ACTIVATIONS)}", aliases=("activation",)),
    StageField("se_style", "se_styles", str, lambda v: v in SE_STYLES, f"one of {allowed(SE_STYLES)}",
               default=("efficientnet",)),
)
FIELD_NAMES = tuple(f.name for f in STAGE_FIELDS)
