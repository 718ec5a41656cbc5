"""``inspect`` and ``space``: an architecture stage by stage, a search-space file summarised."""

from __future__ import annotations

import argparse
import json

from ..errors import UserError
from .limits import add_max_params, max_params

def add_inspect(sub: argparse._SubParsersAction) -> None:
    from ..model.latency_settings import RUNTIMES

    p = sub.add_parser("inspect", help="per-stage params and FLOPs of an architecture")
    p.add_argument("--arch", required=True, help="zoo name, genotype JSON file, or arch string")
    p.add_argument("--width-mult", type=float, default=1.0, help="scale every width (rounded to multiples of 8)")
    p.add_argument("--depth-mult", type=float, default=1.0, help="scale every stage's depth (rounded up)")
    p.add_argument("--resolution", type=int, default=None, help="input resolution (default: the architecture's)")
    p.add_argument("--num-classes", type=int, default=None, help="classes (default: the architecture's)")
    p.add_argument("--in-channels", type=int, default=None, help="input channels (default: the architecture's)")
    p.add_argument("--analytic", action="store_true",
                   help="use the analytic estimate instead of building the model for fvcore")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--latency-on", default=None, choices=RUNTIMES,
                   help="also measure the latency on this runtime (median forward pass, eval mode, 1 thread)")
    p.add_argument("--latency-batch", type=int, default=1, metavar="B", help="batch size of the latency measurement")
    add_max_params(p)
    p.set_defaults(handler=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from ..arch.rounding import scale_genotype
    from ..model.latency_settings import LatencySettings
    from ..model.limits import check_size
    from ..report.describe import describe, format_table, resolve_arch

    limit = max_params(args)
    latency = LatencySettings(runtime=args.latency_on, batch=args.latency_batch) if args.latency_on else None
    if latency is not None:
        latency.check()  # a missing runtime: one line before anything is built
    g = resolve_arch(args.arch, limit)
    if args.width_mult <= 0 or args.depth_mult <= 0:
        raise UserError("--width-mult and --depth-mult must be positive")
    if args.resolution is not None and args.resolution < 8:
        raise UserError(f"--resolution must be >= 8, got {args.resolution}")
    updates = {k: v for k, v in (("num_classes", args.num_classes), ("in_channels", args.in_channels))
               if v is not None}
    if updates:
        g = g.with_updates(**updates)
    g = scale_genotype(g, args.width_mult, args.depth_mult, args.resolution)
    check_size(g, f"{args.arch} as scaled and resized by the flags", limit)
    info = describe(g, measure=not args.analytic)
    if latency is not None:
        from ..model.latency import measure_latency

        info["latency_ms"], info["latency_convention"] = measure_latency(g, latency).ms, latency.describe()
    print(json.dumps(info) if args.json else format_table(info))
    if latency is not None and not args.json:
        print(f"latency: {info['latency_ms']:.3f} ms ({info['latency_convention']})")
    return 0


def add_space(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="validate a search-space file and summarise it")
    p.add_argument("--space", required=True, help="YAML file, or the name of a shipped space")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_space)


def _cmd_space(args: argparse.Namespace) -> int:
    from ..arch.space_file import load_space
    from ..model.cost import FLOPS_CONVENTION, estimate_cost
    from ..units import human

    space = load_space(args.space)
    refs = [{"name": g.name, "arch": g.arch, **vars(estimate_cost(g))} for g in space.reference_genotypes()]
    if args.json:
        print(json.dumps({"name": space.name, "source": space.source, "size": space.size(),
                          "stages": len(space.stages), "resolutions": list(space.resolutions),
                          "references": [{k: r[k] for k in ("name", "arch", "params", "flops")} for r in refs]}))
        return 0
    print(f"{space.name}: {space.description}  [{space.source}]")
    print(f"{space.size():,} distinct architectures, {len(space.stages)} stages, "
          f"resolution {', '.join(map(str, space.resolutions))} px")
    for i, sc in enumerate(space.stages):
        styles = "" if sc.se_styles == ("efficientnet",) else f" ({','.join(sc.se_styles)})"
        print(f"  stage {i}: cells {','.join(sc.cells)}  k {sc.kernels}  e {sc.expansions}  "
              f"se {sc.se_ratios}{styles}  r {sc.repeats}  c {sc.channels}  {','.join(sc.activations)}  "
              f"s{sc.stride}  ({len(sc.options())} options)")
    for r in refs:
        print(f"  reference {r['name']}: {human(r['params'])} params, {human(r['flops'])} FLOPs")
    print(f"FLOPs: {FLOPS_CONVENTION} [analytic estimate]")
    return 0
