"""NAS and EfficientNet-style compound scaling for PyTorch CNNs.

Data flows one way: search space -> genotype -> model -> cost and training -> study -> analysis
and export. The genotype is the contract between every part.
"""

from .arch_string import parse_arch_string, to_arch_string
from .builder import Network, build_model
from .cost import FLOPS_CONVENTION, count_flops, count_params, estimate_cost
from .errors import UserError
from .genotype import Genotype, Head, Stage, Stem
from .scaling import make_divisible, scale_genotype
from .space import SearchSpace, load_space
from .zoo import ZOO, get_reference

__all__ = [
    "FLOPS_CONVENTION", "Genotype", "Head", "Network", "SearchSpace", "Stage", "Stem", "UserError",
    "ZOO", "build_model", "count_flops", "count_params", "estimate_cost", "get_reference",
    "load_space", "make_divisible", "parse_arch_string", "scale_genotype", "to_arch_string",
]
