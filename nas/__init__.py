"""NAS and EfficientNet-style compound scaling for PyTorch CNNs.

Data flows one way, and the sub-packages show it: ``nas.arch`` (search space -> genotype) ->
``nas.model`` (genotype -> network, cost) -> ``nas.train`` (data, brief training) -> ``nas.study``
(the ask/tell loop, search, scaling) -> ``nas.report`` (frames, fronts, plots, export). The
genotype is the contract between every part.

The public names below are imported on first use (PEP 562), so ``import nas`` and ``nas --help``
do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "parse_arch_string": "nas.arch.arch_string", "to_arch_string": "nas.arch.grammar",
    "Genotype": "nas.arch.genotype", "Head": "nas.arch.genotype", "Stage": "nas.arch.genotype",
    "Stem": "nas.arch.genotype", "make_divisible": "nas.arch.rounding",
    "scale_genotype": "nas.arch.rounding", "SearchSpace": "nas.arch.space",
    "load_space": "nas.arch.space_file", "ZOO": "nas.arch.zoo", "get_reference": "nas.arch.zoo",
    "Network": "nas.model.builder", "build_model": "nas.model.builder",
    "FLOPS_CONVENTION": "nas.model.cost", "count_flops": "nas.model.cost",
    "count_params": "nas.model.cost", "estimate_cost": "nas.model.cost",
    "UserError": "nas.errors",
}
_MODULES = ("results", "export")  # public module paths: nas.results, nas.export

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f"nas.{name}")
    raise AttributeError(f"module 'nas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_MODULES])
