"""The genotype: plain, immutable data that describes one whole network.

The genotype is the contract between every part of the toolkit: a search space samples one, the
builder turns it into a module, the cost model reads it, the study stores it as JSON, and export
writes it. It holds no tensors and no code, so it round-trips through JSON exactly and hashes
stably (the hash de-duplicates candidates across a study).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import UserError, allowed
from .fields import ACTIVATIONS, CELL_TYPES, SCALING_RULES, SE_STYLES, STAGE_FIELDS, STRIDES  # noqa: F401 - vocabulary re-exported
from .grammar import to_arch_string

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Stem:
    """First convolution: k x k, stride, then BN + activation; optional 3x3/2 max-pool (ResNet)."""

    channels: int
    kernel: int = 3
    stride: int = 2
    activation: str = "silu"
    pool: bool = False


@dataclass(frozen=True)
class Stage:
    """A run of ``repeats`` identical cells; only the first has ``stride`` and changes channels."""

    cell: str
    repeats: int
    kernel: int
    stride: int
    expansion: float
    se_ratio: float
    channels: int
    activation: str
    skip: bool = True
    se_style: str = "efficientnet"  # nas.arch.fields.SE_STYLES; meaningless without SE

    def __post_init__(self) -> None:
        # Normalise numbers so that 6 and 6.0 hash and serialise identically.
        object.__setattr__(self, "expansion", float(self.expansion))
        object.__setattr__(self, "se_ratio", float(self.se_ratio))
        if not self.se_ratio:  # no SE, no style: equal networks, equal genotypes
            object.__setattr__(self, "se_style", "efficientnet")


@dataclass(frozen=True)
class Head:
    """Final 1x1 conv (``channels`` = 0: none, as in ResNet), global pool, dropout, classifier."""

    channels: int
    activation: str = "silu"
    dropout: float = 0.0
    hidden: int = 0  # a hidden linear layer (+ activation) before the classifier: MobileNetV3's 1280

    def __post_init__(self) -> None:
        object.__setattr__(self, "dropout", float(self.dropout))


@dataclass(frozen=True)
class Genotype:
    """A whole network. ``drop_path_rate`` is the stochastic-depth rate of the last block."""

    stem: Stem
    stages: tuple[Stage, ...]
    head: Head
    resolution: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    drop_path_rate: float = 0.0
    name: str = field(default="", compare=False)
    scaling_rule: str = "efficientnet"  # nas.arch.fields.SCALING_RULES

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "drop_path_rate", float(self.drop_path_rate))
        validate(self)

    # ----- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data. Fields added after format 1 are written only where they differ from their
        default, so every older genotype keeps its exact JSON and its key."""
        data = asdict(self)
        data["stages"] = [_without_defaults(asdict(s), _STAGE_ADDED) for s in self.stages]
        data["head"] = _without_defaults(data["head"], _HEAD_ADDED)
        data = _without_defaults(data, _GENOTYPE_ADDED)
        data["format_version"] = FORMAT_VERSION
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "genotype") -> "Genotype":
        return genotype_from_dict(data, source)

    @classmethod
    def from_json(cls, text: str, source: str = "genotype") -> "Genotype":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a JSON object describing a genotype")
        return genotype_from_dict(data, source)

    # ----- identity --------------------------------------------------------------------------
    def key(self) -> str:
        """Stable content hash (16 hex digits); the name is not part of the identity."""
        data = self.to_dict()
        data.pop("name", None)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def arch(self) -> str:
        """The one-line arch string (:mod:`nas.arch.grammar`)."""
        return to_arch_string(self)

    def with_updates(self, **changes: Any) -> "Genotype":
        return replace(self, **changes)

    @property
    def num_blocks(self) -> int:
        return sum(s.repeats for s in self.stages)


_STAGE_ADDED = {"se_style": "efficientnet"}
_HEAD_ADDED = {"hidden": 0}
_GENOTYPE_ADDED = {"scaling_rule": "efficientnet"}


def _without_defaults(data: dict[str, Any], added: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in added and v == added[k])}


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise UserError(message)


def validate(g: Genotype, source: str = "genotype") -> None:
    """Reject genotypes no builder could make; messages name the field and allowed values."""
    st = g.stem
    _require(st.channels >= 1, f"{source}: stem.channels must be >= 1, got {st.channels}")
    _require(st.kernel >= 1 and st.kernel % 2 == 1,
             f"{source}: stem.kernel must be an odd integer >= 1, got {st.kernel}")
    _require(st.stride in (1, 2), f"{source}: stem.stride must be one of 1, 2, got {st.stride}")
    _require(st.activation in ACTIVATIONS,
             f"{source}: stem.activation {st.activation!r} not in {allowed(ACTIVATIONS)}")
    _require(len(g.stages) >= 1, f"{source}: stages must not be empty")
    for i, s in enumerate(g.stages):
        where = f"{source}: stage {i}"
        for f in STAGE_FIELDS:
            value = getattr(s, f.name)
            _require(f.accepts(value), f"{where}: {f.name} must be {f.rule}, got {value!r}")
        _require(s.stride in STRIDES, f"{where}: stride must be one of {allowed(STRIDES)}, got {s.stride}")
        if s.cell in ("res", "resb"):
            _require(s.se_ratio == 0, f"{where}: se_ratio must be 0 for {s.cell} cells")
        if s.cell == "res":
            _require(s.expansion == 1, f"{where}: expansion must be 1 for res cells")
    _require(g.head.channels >= 0, f"{source}: head.channels must be >= 0, got {g.head.channels}")
    _require(g.head.activation in ACTIVATIONS,
             f"{source}: head.activation {g.head.activation!r} not in {allowed(ACTIVATIONS)}")
    _require(0 <= g.head.dropout < 1, f"{source}: head.dropout must be in [0, 1)")
    _require(isinstance(g.head.hidden, int) and not isinstance(g.head.hidden, bool) and g.head.hidden >= 0,
             f"{source}: head.hidden must be an integer >= 0 (0: no hidden layer), got {g.head.hidden!r}")
    _require(g.scaling_rule in SCALING_RULES,
             f"{source}: scaling_rule {g.scaling_rule!r} not in {allowed(SCALING_RULES)}")
    _require(g.resolution >= 8, f"{source}: resolution must be >= 8, got {g.resolution}")
    _require(g.in_channels >= 1, f"{source}: in_channels must be >= 1")
    _require(g.num_classes >= 2, f"{source}: num_classes must be >= 2, got {g.num_classes}")
    _require(0 <= g.drop_path_rate < 1, f"{source}: drop_path_rate must be in [0, 1)")


def _build(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected an object, got {type(data).__name__}")
    names = {f for f in kind.__dataclass_fields__}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"{where}: unknown field {unknown[0]!r}; allowed: {allowed(sorted(names))}")
    try:
        return kind(**data)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: {exc}") from None


def genotype_from_dict(data: dict[str, Any], source: str = "genotype") -> Genotype:
    """Rebuild a genotype from its JSON form, refusing newer format versions."""
    data = dict(data)
    version = data.pop("format_version", FORMAT_VERSION)
    # An export's genotype.json also says what input the trained weights expect (nas.export);
    # that describes the weights, not the architecture: not part of the genotype or its key.
    data.pop("data_config", None)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(
            f"{source}: format_version {version!r} is newer than this toolkit reads "
            f"(up to {FORMAT_VERSION}); upgrade the toolkit")
    for required in ("stem", "stages", "head"):
        if required not in data:
            raise UserError(f"{source}: missing field {required!r}")
    if not isinstance(data["stages"], list):
        raise UserError(f"{source}: stages must be a list")
    stem = _build(Stem, data.pop("stem"), f"{source}: stem")
    head = _build(Head, data.pop("head"), f"{source}: head")
    stages = tuple(_build(Stage, s, f"{source}: stage {i}") for i, s in enumerate(data.pop("stages")))
    names = set(Genotype.__dataclass_fields__) - {"stem", "head", "stages"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"{source}: unknown field {unknown[0]!r}; allowed: {allowed(sorted(names))}")
    try:
        return Genotype(stem=stem, stages=stages, head=head, **data)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{source}: {exc}") from None
    except UserError as exc:
        raise UserError(str(exc).replace("genotype:", f"{source}:", 1)) from None
