"""Search spaces: MnasNet's factorized hierarchical space, and how a trial samples from it.

Each stage chooses independently the fields of :data:`nas.arch.fields.STAGE_FIELDS` (cell type,
kernel, expansion, SE ratio, repeats, output channels, activation); stride is fixed per stage.
A space samples genotypes from an Optuna trial under stable parameter names, the same names as
the trials frame's columns: ``s{i}_cell``, ``s{i}_kernel``, ``s{i}_expansion``,
``s{i}_se_ratio``, ``s{i}_repeats``, ``s{i}_channels``, ``s{i}_activation`` and ``resolution``.
Only choices with more than one value become parameters, and every parameter is suggested in
every trial so the Optuna search space is static (NSGA-II and GP need that).

Numeric choices are *ordered* for the samplers, not unordered categories, so that samplers can
learn that more channels or repeats cost more FLOPs and usually buy accuracy: measured on the
search-efficiency benchmark, the ordinal encoding cut the trials TPE needs to reach random
search's 100-trial hypervolume from 84 to 52 (BENCHMARKS.md §3). How a study stores them is its
``param_encoding`` (:data:`ENCODINGS`): since v4 (``values``) the parameters hold the values
themselves (``s1_channels`` = 24, so that optuna-dashboard and ``trial.params`` show what was
built) in a categorical distribution of the sorted choices, and every sampler of this toolkit
sees them as indexes 0..n-1 through :mod:`nas.study.sampling.ordinal_view`; studies made with
v3 (``index``: the parameters hold the index) keep that encoding when resumed. ``categorical``
(numbers as unordered categories) is kept for the benchmark that measured what order bought.
Cell type and activation stay categorical. Choices that a cell ignores (expansion and SE of
``res``, SE of ``resb``) are normalised away, so two trials can map to the same genotype; the
search de-duplicates them by :meth:`Genotype.key`. Files are read by :mod:`nas.arch.space_file`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .arch_string import parse_stage
from .fields import STAGE_FIELDS
from .genotype import Genotype, Head, Stage, Stem

# Recorded in every study, and how a resumed study keeps sampling: v3 parameters hold indexes, v4
# the values (the samplers see indexes either way). Older encodings had other parameter names.
PARAM_ENCODING = "ordinal-values-v4"
ENCODINGS = {"ordinal-values-v4": "values", "ordinal-index-v3": "index"}
Encoding = str  # "values" | "index" | "categorical"


class TrialLike(Protocol):
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...


def is_ordered(choices: tuple[Any, ...]) -> bool:
    """Numbers are suggested as ordinal indexes; anything else as categories."""
    return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)


def suggest_choice(trial: TrialLike, name: str, choices: tuple[Any, ...], encoding: Encoding = "values") -> Any:
    """One choice from ``choices`` under parameter ``name`` (none for a single choice), stored as
    ``encoding`` says (module docstring)."""
    if len(choices) == 1:
        return choices[0]
    if not is_ordered(choices):
        return trial.suggest_categorical(name, list(choices))
    ordered = sorted(choices)
    if encoding == "index":
        return ordered[trial.suggest_int(name, 0, len(ordered) - 1)]
    if encoding == "categorical":  # as text, so that no sampler view reads an order into them
        labels = [str(c) for c in choices]
        return choices[labels.index(trial.suggest_categorical(name, labels))]
    return trial.suggest_categorical(name, ordered)


def param_value(choices: tuple[Any, ...], value: Any, encoding: Encoding = "values") -> Any:
    """The parameter value :func:`suggest_choice` takes to return ``value``."""
    if not is_ordered(choices):
        return value
    return sorted(choices).index(value) if encoding == "index" else str(value) if encoding == "categorical" else value


@dataclass(frozen=True)
class StageChoices:
    """The allowed values of each stage field (attributes named by ``StageField.plural``)."""

    cells: tuple[str, ...]
    kernels: tuple[int, ...]
    expansions: tuple[float, ...]
    se_ratios: tuple[float, ...]
    repeats: tuple[int, ...]
    channels: tuple[int, ...]
    stride: int
    activations: tuple[str, ...]
    se_styles: tuple[str, ...] = ("efficientnet",)

    def of(self, field_name: str) -> tuple[Any, ...]:
        """The choices of one field, by its singular name (``"kernel"`` -> ``kernels``)."""
        return getattr(self, next(f.plural for f in STAGE_FIELDS if f.name == field_name))

    def options(self) -> list[Stage]:
        """Every distinct stage this choice set allows, after normalisation."""
        seen: dict[Stage, None] = {}
        for values in itertools.product(*(getattr(self, f.plural) for f in STAGE_FIELDS)):
            fields = dict(zip((f.name for f in STAGE_FIELDS), values))
            seen[normalise_stage(Stage(stride=self.stride, **fields))] = None
        return list(seen)

    def allows(self, stage: Stage) -> bool:
        return stage in set(self.options())


def normalise_stage(s: Stage) -> Stage:
    """Drop choices a cell ignores, so equal networks have equal genotypes."""
    if s.cell == "res":
        return replace(s, expansion=1.0, se_ratio=0.0)
    if s.cell == "resb":
        return replace(s, se_ratio=0.0)
    return s


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    resolutions: tuple[int, ...]
    in_channels: int
    num_classes: int
    stem: Stem
    head: Head
    drop_path_rate: float
    stages: tuple[StageChoices, ...]
    reference_archs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str = "<memory>"
    text: str = ""

    # ----- sampling -------------------------------------------------------------------------
    def sample(self, trial: TrialLike, in_channels: int | None = None,
               num_classes: int | None = None, encoding: Encoding = "values") -> Genotype:
        """Suggest every stage's choices on ``trial`` and return the genotype they describe."""
        stages = []
        for i, sc in enumerate(self.stages):
            values = {f.name: suggest_choice(trial, f.param(i), getattr(sc, f.plural), encoding)
                      for f in STAGE_FIELDS}
            stages.append(normalise_stage(Stage(stride=sc.stride, **values)))
        resolution = suggest_choice(trial, "resolution", self.resolutions, encoding)
        return self.genotype(tuple(stages), resolution, in_channels, num_classes)

    def genotype(self, stages: tuple[Stage, ...], resolution: int | None = None,
                 in_channels: int | None = None, num_classes: int | None = None,
                 name: str = "") -> Genotype:
        return Genotype(stem=self.stem, stages=stages, head=self.head,
                        resolution=resolution or self.resolutions[0],
                        in_channels=in_channels or self.in_channels,
                        num_classes=num_classes or self.num_classes,
                        drop_path_rate=self.drop_path_rate, name=name)

    def params_for(self, g: Genotype, encoding: Encoding = "values") -> dict[str, Any]:
        """The Optuna parameters that sample ``g`` (to enqueue reference architectures)."""
        out: dict[str, Any] = {}
        for i, (sc, s) in enumerate(zip(self.stages, g.stages)):
            for f in STAGE_FIELDS:
                choices, value = getattr(sc, f.plural), getattr(s, f.name)
                if len(choices) > 1:
                    # Ignored choices (res expansion/SE) take any allowed value.
                    out[f.param(i)] = param_value(choices, value if value in choices else choices[0], encoding)
        if len(self.resolutions) > 1:
            out["resolution"] = param_value(self.resolutions, g.resolution, encoding)
        return out

    # ----- inspection -----------------------------------------------------------------------
    def size(self) -> int:
        """Number of distinct architectures (genotypes) in the space."""
        return math.prod(len(sc.options()) for sc in self.stages) * len(self.resolutions)

    def contains(self, g: Genotype) -> bool:
        if len(g.stages) != len(self.stages) or g.resolution not in self.resolutions:
            return False
        if g.stem != self.stem or g.head != self.head:
            return False
        return all(sc.allows(normalise_stage(s)) for sc, s in zip(self.stages, g.stages))

    def reference_genotypes(self, in_channels: int | None = None,
                            num_classes: int | None = None) -> list[Genotype]:
        refs = []
        for name, stage_strings in self.reference_archs:
            stages = tuple(normalise_stage(parse_stage(s, f"{self.source}: reference_archs {name}"))
                           for s in stage_strings)
            refs.append(self.genotype(stages, None, in_channels, num_classes, name=name))
        return refs

