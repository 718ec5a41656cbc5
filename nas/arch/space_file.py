"""Reading a search-space YAML file, with one clear message per mistake, and the shipped spaces.

Every message names the file, the place (``stage 2``), the field and what is allowed; a stage's
keys and checks come from :data:`nas.arch.fields.STAGE_FIELDS`. The shipped spaces are the
package data ``nas.spaces`` (the repository's ``search_spaces/`` folder), so a bare name such as
``mobile`` works from an installed wheel in any directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError, allowed
from .fields import ACTIVATIONS, STAGE_FIELDS, STRIDES
from .genotype import Head, Stem
from .space import SearchSpace, StageChoices

TOP_LEVEL_KEYS = ("name", "description", "resolution", "in_channels", "num_classes", "stem",
                  "head", "drop_path_rate", "stages", "reference_archs")
STAGE_KEYS = tuple(k for f in STAGE_FIELDS for k in (f.plural, *f.aliases)) + ("stride",)


def shipped_space_dir() -> Path:
    """The folder of the shipped spaces: installed package data, else the checkout's folder."""
    try:
        folder = Path(str(resources.files("nas.spaces")))
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "search_spaces"
    return folder


def shipped_spaces() -> list[Path]:
    return sorted(shipped_space_dir().glob("*.yaml"))


class _Reader:
    """Validates one file; every message names the file, the place, the field and what is allowed."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> UserError:
        return UserError(f"{self.source}: {where}: {message}")

    def choices(self, data: dict[str, Any], key: str, where: str, kind: type,
                check: Any, rule: str) -> tuple[Any, ...]:
        value = data.get(key)
        if value is None:
            raise self.fail(where, f"missing field {key!r} ({rule})")
        values = value if isinstance(value, list) else [value]
        if key == "repeats" and isinstance(value, dict):
            values = self.range(value, where)
        if not values:
            raise self.fail(where, f"field {key!r} is an empty list; give at least one value ({rule})")
        out = []
        for v in values:
            ok_type = isinstance(v, kind) or (kind is float and isinstance(v, int))
            if isinstance(v, bool) or not ok_type or not check(v):
                raise self.fail(where, f"field {key!r} has bad value {v!r}; allowed: {rule}")
            out.append(float(v) if kind is float else v)
        return tuple(dict.fromkeys(out))

    def range(self, value: dict[str, Any], where: str) -> list[Any]:
        lo, hi = value.get("min"), value.get("max")
        if not isinstance(lo, int) or not isinstance(hi, int) or lo < 1 or hi < lo:
            raise self.fail(where, f"field 'repeats' range {value!r}; allowed: {{min: int >= 1, max: int >= min}}")
        return list(range(lo, hi + 1))

    def mapping(self, data: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a mapping with fields {allowed(keys)}")
        unknown = [k for k in data if k not in keys]
        if unknown:
            raise self.fail(where, f"unknown field {unknown[0]!r}; allowed: {allowed(keys)}")
        return data

    def stage(self, data: Any, where: str) -> StageChoices:
        """One stage's choices: a key per field of the table (or one of its aliases), and stride."""
        sd = self.mapping(data, where, STAGE_KEYS)
        values: dict[str, tuple[Any, ...]] = {}
        for f in STAGE_FIELDS:
            key = next((k for k in (f.plural, *f.aliases) if k in sd), f.plural)
            given = {key: sd.get(key, list(f.default) if f.default is not None else None)}
            rule = f.rule + (", or {min, max}" if f.name == "repeats" else "")
            values[f.plural] = self.choices(given, key, where, f.kind, f.check, rule)
        stride = self.choices(sd, "stride", where, int, lambda v: v in STRIDES, allowed(STRIDES))[0]
        return StageChoices(stride=stride, **values)


def _odd(v: int) -> bool:
    return v >= 1 and v % 2 == 1


def parse_space(data: Any, source: str, text: str = "") -> SearchSpace:
    r = _Reader(source)
    data = r.mapping(data, "top level", TOP_LEVEL_KEYS)
    for key in ("stem", "head", "stages"):
        if key not in data:
            raise r.fail("top level", f"missing field {key!r}")
    stem_d = r.mapping(data["stem"], "stem", ("channels", "kernel", "stride", "activation", "pool"))
    stem = Stem(channels=r.choices(stem_d, "channels", "stem", int, lambda v: v >= 1, "integer >= 1")[0],
                kernel=r.choices(stem_d, "kernel", "stem", int, _odd, "odd integer >= 1")[0],
                stride=r.choices(stem_d, "stride", "stem", int, lambda v: v in STRIDES, allowed(STRIDES))[0],
                activation=r.choices(stem_d, "activation", "stem", str, lambda v: v in ACTIVATIONS,
                                     allowed(ACTIVATIONS))[0],
                pool=bool(stem_d.get("pool", False)))
    head_d = r.mapping(data["head"], "head", ("channels", "activation", "dropout", "hidden"))
    head = Head(channels=r.choices(head_d, "channels", "head", int, lambda v: v >= 0, "integer >= 0")[0],
                activation=r.choices(head_d, "activation", "head", str, lambda v: v in ACTIVATIONS,
                                     allowed(ACTIVATIONS))[0],
                dropout=r.choices({"dropout": head_d.get("dropout", 0.0)}, "dropout", "head", float,
                                  lambda v: 0 <= v < 1, "number in [0, 1)")[0],
                hidden=r.choices({"hidden": head_d.get("hidden", 0)}, "hidden", "head", int, lambda v: v >= 0,
                                 "integer >= 0 (0: no hidden layer)")[0])
    top = {"resolution": data.get("resolution", 32), "in_channels": data.get("in_channels", 3),
           "num_classes": data.get("num_classes", 10), "drop_path_rate": data.get("drop_path_rate", 0.0)}
    resolutions = r.choices(top, "resolution", "top level", int, lambda v: v >= 8, "integers >= 8")
    in_channels = r.choices(top, "in_channels", "top level", int, lambda v: v >= 1, "integer >= 1")[0]
    num_classes = r.choices(top, "num_classes", "top level", int, lambda v: v >= 2, "integer >= 2")[0]
    drop_path = r.choices(top, "drop_path_rate", "top level", float, lambda v: 0 <= v < 1,
                          "number in [0, 1)")[0]
    if not isinstance(data["stages"], list) or not data["stages"]:
        raise r.fail("stages", "expected a non-empty list of stages")
    stages = [r.stage(sd, f"stage {i}") for i, sd in enumerate(data["stages"])]
    refs = []
    for j, ref in enumerate(data.get("reference_archs") or []):
        where = f"reference_archs {j}"
        ref = r.mapping(ref, where, ("name", "stages"))
        strings = ref.get("stages")
        if not isinstance(strings, list) or len(strings) != len(stages):
            raise r.fail(where, f"'stages' must list {len(stages)} stage strings, one per stage")
        refs.append((str(ref.get("name", f"ref{j}")), tuple(str(s) for s in strings)))
    space = SearchSpace(name=str(data.get("name", Path(source).stem)),
                        description=str(data.get("description", "")), resolutions=resolutions,
                        in_channels=in_channels, num_classes=num_classes, stem=stem, head=head,
                        drop_path_rate=drop_path, stages=tuple(stages), reference_archs=tuple(refs),
                        source=source, text=text)
    for g in space.reference_genotypes():
        if not space.contains(g):
            raise r.fail(f"reference_archs {g.name}", "architecture is not inside this search space")
    return space


def _resolve(path: str | Path) -> Path:
    """The file itself, or a shipped space: ``mobile``, ``mobile.yaml`` or
    ``search_spaces/mobile.yaml`` from a directory that has no such file (an installed wheel)."""
    p = Path(path)
    if p.exists():
        return p
    shipped = shipped_space_dir() / (p.name if p.suffix else f"{p.name}.yaml")
    if (len(p.parts) == 1 or p.parent.name == "search_spaces") and shipped.is_file():
        return shipped
    names = sorted(f.stem for f in shipped_spaces())
    raise UserError(f"{path}: search-space file not found; shipped spaces: {allowed(names)}")


def load_space(path: str | Path) -> SearchSpace:
    """Load and validate a search-space file, or a shipped space by name (``mobile``)."""
    p = _resolve(path)
    text = p.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "syntax"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{p}: {where}: YAML syntax error: {problem}") from None
    return parse_space(data, str(p), text)
