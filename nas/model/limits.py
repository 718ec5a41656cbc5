"""Refuse an absurd architecture from its genotype alone (:mod:`nas.arch.limits`), naming the
source and the stage that makes it so, before a module or a tensor is created."""

from __future__ import annotations

from ..arch.genotype import Genotype
from ..arch.limits import DEFAULT_MAX_PARAMS, MAX_FLOPS
from ..errors import UserError
from ..units import human
from .cost import estimate_cost


def check_size(g: Genotype, source: str, max_params: float = DEFAULT_MAX_PARAMS) -> None:
    """UserError when ``g`` has more than ``max_params`` parameters or more than 10x
    EfficientNet-B7's FLOPs; the analytic cost model allocates nothing."""
    cost = estimate_cost(g)
    parts = g.arch.split("/")  # stem, stages..., head, input
    if cost.params > max_params:
        i = max(range(len(cost.stage_params)), key=lambda k: cost.stage_params[k])
        default = " (the default, 10x EfficientNet-B7)" if max_params == DEFAULT_MAX_PARAMS else ""
        raise UserError(f"{source}: the model would have {human(cost.params)} parameters (largest: stage {i}, "
                        f"{parts[1 + i]}, {human(cost.stage_params[i])}), above --max-params "
                        f"{human(max_params)}{default}; refused before building it")
    if cost.flops > MAX_FLOPS:
        i = max(range(len(cost.stage_flops)), key=lambda k: cost.stage_flops[k])
        raise UserError(f"{source}: the model would cost {human(cost.flops)} FLOPs at {g.resolution} px (largest: "
                        f"stage {i}, {parts[1 + i]}), above {human(MAX_FLOPS)} (10x EfficientNet-B7); "
                        f"refused before building it")
