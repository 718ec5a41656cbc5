"""The one-line arch-string grammar (timm-like) and how a genotype is written in it.

Grammar (elements separated by ``/``, tokens inside an element by ``_``)::

    stem_c32_k3_s2_nsw[_pool] / STAGE / ... / head_c1280_nsw_d0.2[_hH] / res224_in3_cls1000_sd0.2[_lite]
    STAGE := CELL_rR_kK_sS_eE_cC[_seX|_hseX]_ACT[_noskip]      CELL in mb, fmb, res, resb

Activation tokens follow timm: ``nre`` relu, ``nr6`` relu6, ``nsw`` silu (swish), ``nhs``
hardswish. ``se`` is omitted when 0, and ``e`` for ``res`` cells (always 1); ``hse`` is
MobileNetV3's squeeze-excite (hard-sigmoid gate, squeeze from the expanded width). ``h`` is the
head's hidden linear layer (MobileNetV3), ``lite`` EfficientNet-Lite's scaling rule.
Example stage: ``mb_r2_k3_s2_e6_c24_se0.25_nsw``. :mod:`nas.arch.arch_string` parses it back.

Writing needs only the genotype's fields, so this module does not import the genotype (which
imports it for ``Genotype.arch``); the parser, which builds genotypes, lives apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .genotype import Genotype, Stage

ACT_TOKENS = {"relu": "nre", "relu6": "nr6", "silu": "nsw", "hardswish": "nhs"}
TOKEN_ACTS = {v: k for k, v in ACT_TOKENS.items()}


def _num(x: float) -> str:
    """Shortest exact form: integers without '.0', other floats by repr (round-trips)."""
    return str(int(x)) if x == int(x) else repr(float(x))


def stage_string(s: "Stage") -> str:
    parts = [s.cell, f"r{s.repeats}", f"k{s.kernel}", f"s{s.stride}"]
    if s.cell != "res":
        parts.append(f"e{_num(s.expansion)}")
    parts.append(f"c{s.channels}")
    if s.se_ratio:
        parts.append(("hse" if s.se_style == "mobilenetv3" else "se") + _num(s.se_ratio))
    parts.append(ACT_TOKENS[s.activation])
    if not s.skip:
        parts.append("noskip")
    return "_".join(parts)


def to_arch_string(g: "Genotype") -> str:
    stem = ["stem", f"c{g.stem.channels}", f"k{g.stem.kernel}", f"s{g.stem.stride}",
            ACT_TOKENS[g.stem.activation]] + (["pool"] if g.stem.pool else [])
    head = ["head", f"c{g.head.channels}", ACT_TOKENS[g.head.activation], f"d{_num(g.head.dropout)}"]
    if g.head.hidden:
        head.append(f"h{g.head.hidden}")
    net = [f"res{g.resolution}", f"in{g.in_channels}", f"cls{g.num_classes}",
           f"sd{_num(g.drop_path_rate)}"] + (["lite"] if g.scaling_rule == "lite" else [])
    elements = ["_".join(stem)] + [stage_string(s) for s in g.stages] + ["_".join(head), "_".join(net)]
    return "/".join(elements)
