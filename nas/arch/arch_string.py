"""Parsing the one-line arch string (grammar in :mod:`nas.arch.grammar`) back into a genotype.

The string parses back to an equal genotype: ``parse_arch_string(g.arch) == g``.
"""

from __future__ import annotations

import re

from ..errors import UserError, allowed
from .fields import CELL_TYPES
from .genotype import Genotype, Head, Stage, Stem
from .grammar import TOKEN_ACTS, stage_string, to_arch_string  # noqa: F401 - public here too

_NUMERIC = re.compile(r"^([a-z]+?)(-?[0-9][0-9.e+-]*)$")


def _tokens(element: str, where: str, numeric: set[str], flags: set[str]) -> tuple[dict[str, str], set[str], str | None]:
    values: dict[str, str] = {}
    seen_flags: set[str] = set()
    act: str | None = None
    for tok in element.split("_")[1:]:
        if tok in TOKEN_ACTS:
            act = TOKEN_ACTS[tok]
            continue
        if tok in flags:
            seen_flags.add(tok)
            continue
        m = _NUMERIC.match(tok)
        if not m or m.group(1) not in numeric:
            raise UserError(f"arch string: {where}: unknown token {tok!r}; allowed prefixes "
                            f"{allowed(sorted(numeric))}, flags {allowed(sorted(flags))}, "
                            f"activations {allowed(sorted(TOKEN_ACTS))}")
        values[m.group(1)] = m.group(2)
    return values, seen_flags, act


def _int(values: dict[str, str], key: str, where: str, default: int | None = None) -> int:
    if key not in values:
        if default is None:
            raise UserError(f"arch string: {where}: missing token {key}<int>")
        return default
    try:
        return int(values[key])
    except ValueError:
        raise UserError(f"arch string: {where}: {key}{values[key]} is not an integer") from None


def _float(values: dict[str, str], key: str, where: str, default: float) -> float:
    try:
        return float(values.get(key, default))
    except ValueError:
        raise UserError(f"arch string: {where}: {key}{values[key]} is not a number") from None


def parse_stage(element: str, where: str = "stage") -> Stage:
    cell = element.split("_", 1)[0]
    if cell not in CELL_TYPES:
        raise UserError(f"arch string: {where}: cell {cell!r} not in {allowed(CELL_TYPES)}")
    v, flags, act = _tokens(element, where, {"r", "k", "s", "e", "c", "se", "hse"}, {"noskip"})
    if "se" in v and "hse" in v:
        raise UserError(f"arch string: {where}: give se (EfficientNet's) or hse (MobileNetV3's), not both")
    return Stage(cell=cell, repeats=_int(v, "r", where), kernel=_int(v, "k", where),
                 stride=_int(v, "s", where), expansion=_float(v, "e", where, 1.0),
                 se_ratio=_float(v, "hse" if "hse" in v else "se", where, 0.0), channels=_int(v, "c", where),
                 activation=act or "relu", skip="noskip" not in flags,
                 se_style="mobilenetv3" if "hse" in v else "efficientnet")


def parse_arch_string(text: str) -> Genotype:
    """Parse :func:`to_arch_string` output back into a genotype."""
    elements = [e for e in text.strip().split("/") if e]
    if len(elements) < 4 or not elements[0].startswith("stem") or not elements[-2].startswith("head"):
        raise UserError("arch string: expected 'stem_.../STAGE/.../head_.../resN_inN_clsN_sdX'")
    v, flags, act = _tokens(elements[0], "stem", {"c", "k", "s"}, {"pool"})
    stem = Stem(channels=_int(v, "c", "stem"), kernel=_int(v, "k", "stem", 3),
                stride=_int(v, "s", "stem", 2), activation=act or "relu", pool="pool" in flags)
    v, _, act = _tokens(elements[-2], "head", {"c", "d", "h"}, set())
    head = Head(channels=_int(v, "c", "head"), activation=act or "relu",
                dropout=_float(v, "d", "head", 0.0), hidden=_int(v, "h", "head", 0))
    net = dict(_NUMERIC.match(t).groups() for t in elements[-1].split("_")  # type: ignore[union-attr]
               if _NUMERIC.match(t))
    stages = tuple(parse_stage(e, f"stage {i}") for i, e in enumerate(elements[1:-2]))
    return Genotype(stem=stem, stages=stages, head=head,
                    resolution=_int(net, "res", "net", 224), in_channels=_int(net, "in", "net", 3),
                    num_classes=_int(net, "cls", "net", 1000),
                    drop_path_rate=_float(net, "sd", "net", 0.0),
                    scaling_rule="lite" if "lite" in elements[-1].split("_") else "efficientnet")
