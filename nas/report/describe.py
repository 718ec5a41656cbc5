"""Resolve ``--arch`` arguments and describe an architecture stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..arch.grammar import stage_string
from ..arch.limits import DEFAULT_MAX_PARAMS
from ..model.builder import build_model
from ..model.limits import check_size
from ..model.cost import FLOPS_CONVENTION, estimate_cost, measure_cost
from ..units import human  # noqa: F401 - formatted tables use it
from ..errors import UserError, allowed
from ..arch.genotype import Genotype
from ..arch.zoo import ZOO, get_reference


def resolve_arch(arch: str, max_params: float = DEFAULT_MAX_PARAMS) -> Genotype:
    """A zoo name, a genotype JSON file (as export writes), or a one-line arch string; refused
    (from the genotype alone, before anything is built) beyond ``max_params`` parameters."""
    g = _read_arch(arch)
    check_size(g, arch, max_params)
    return g


def _read_arch(arch: str) -> Genotype:
    path = Path(arch)
    if path.is_dir():  # an export folder: its genotype
        if not (path / "genotype.json").is_file():
            raise UserError(f"{arch}: a folder without genotype.json; give an export folder, a genotype .json "
                            f"file, a zoo name or an arch string")
        path, arch = path / "genotype.json", str(path / "genotype.json")
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise UserError(f"{arch}: genotype file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{arch}: a binary file (a model or weights?), not a genotype; give the export "
                            f"folder or its genotype.json") from None
        if path.suffix != ".json" and text.strip().startswith("stem") and "/" in text:
            from ..arch.arch_string import parse_arch_string  # an arch string in a file (export's arch.txt)
            return parse_arch_string(text.strip())
        import json
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{arch}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if isinstance(data, dict) and "genotype" in data and "stem" not in data:
            data = data["genotype"]  # an export bundle that wraps the genotype
        if not isinstance(data, dict):
            raise UserError(f"{arch}: expected a JSON object describing a genotype")
        return Genotype.from_dict(data, source=arch)
    if "/" in arch and arch.startswith("stem"):
        from ..arch.arch_string import parse_arch_string
        return parse_arch_string(arch)
    if arch in ZOO:
        return get_reference(arch)
    raise UserError(f"--arch {arch!r}: not a zoo name, a .json genotype file or an arch string; "
                    f"zoo names: {allowed(sorted(ZOO))}")


def describe(g: Genotype, measure: bool = True) -> dict[str, Any]:
    """Per-stage and total params/FLOPs; fvcore-measured when ``measure``, else analytic."""
    cost = measure_cost(build_model(g)) if measure else estimate_cost(g)
    stages = [{"stage": i, "arch": stage_string(s), "cell": s.cell, "repeats": s.repeats,
               "channels": s.channels, "stride": s.stride, "params": p, "flops": f}
              for i, (s, p, f) in enumerate(zip(g.stages, cost.stage_params, cost.stage_flops))]
    return {"name": g.name, "arch": g.arch, "key": g.key(), "resolution": g.resolution,
            "in_channels": g.in_channels, "num_classes": g.num_classes,
            "params": cost.params, "flops": cost.flops,
            "flops_source": "fvcore" if measure else "analytic estimate",
            "flops_convention": FLOPS_CONVENTION,
            "stem": {"params": cost.stem_params, "flops": cost.stem_flops},
            "head": {"params": cost.head_params, "flops": cost.head_flops,
                     "parts": "+".join([*(["conv"] if g.head.channels else []), "pool",
                                        *([f"fc{g.head.hidden}"] if g.head.hidden else []), "fc"])},
            "stages": stages}


def format_table(info: dict[str, Any]) -> str:
    rows = [("stem", "conv", "1", "", human(info["stem"]["params"]), human(info["stem"]["flops"]))]
    for s in info["stages"]:
        rows.append((f"stage {s['stage']}", s["arch"], str(s["repeats"]), str(s["channels"]),
                     human(s["params"]), human(s["flops"])))
    rows.append(("head", info["head"].get("parts", "conv+pool+fc"), "", "", human(info["head"]["params"]), human(info["head"]["flops"])))
    header = ("part", "cell", "repeats", "channels", "params", "FLOPs")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    lines = [f"{info['name'] or 'architecture'}  ({info['resolution']} px, {info['in_channels']} in, "
             f"{info['num_classes']} classes)", fmt(header), fmt(tuple("-" * w for w in widths))]
    lines += [fmt(r) for r in rows]
    lines.append(f"total: {info['params']:,} params, {info['flops']:,} FLOPs ({human(info['flops'])})")
    lines.append(f"FLOPs: {info['flops_convention']} [{info['flops_source']}]")
    lines.append(f"arch: {info['arch']}")
    return "\n".join(lines)
