"""``--max-params``: the size limit on architectures read from files or arch strings."""

from __future__ import annotations

import argparse


def add_max_params(p: argparse.ArgumentParser) -> None:
    from ..arch.limits import DEFAULT_MAX_PARAMS
    from ..units import human

    p.add_argument("--max-params", default=None, metavar="N",
                   help=f"refuse architectures with more parameters, checked from the genotype before "
                        f"anything is built (default {human(DEFAULT_MAX_PARAMS)}, 10x EfficientNet-B7; "
                        f"k/M/G suffixes)")


def max_params(args: argparse.Namespace) -> float:
    from ..arch.limits import DEFAULT_MAX_PARAMS
    from ..units import parse_quantity

    return parse_quantity(args.max_params, "--max-params") or DEFAULT_MAX_PARAMS
