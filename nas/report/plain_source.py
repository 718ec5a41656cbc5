"""``model.py`` for an export: plain PyTorch source for one architecture (issue 33).

Users of NAS tools ask most for "a plain model after the search" (NNI #2434, once-for-all #57):
code they can read, change and ship without this toolkit. The source is the template
:mod:`nas.report.plain_model` (importing nothing but torch, tested against the builder for every
cell type) with the genotype's blocks written out as a literal, so the file stands alone.
"""

from __future__ import annotations

import pprint
from pathlib import Path
from typing import Any

from ..arch.genotype import Genotype
from ..model.specs import block_specs
from ..train.data_config import DataConfig

_MARKER = "# --- the exported architecture (written by nas export) ---"


def architecture_literal(genotype: Genotype) -> dict[str, Any]:
    """Every number the plain model needs, as plain data (the specs the builder reads)."""
    g = genotype
    blocks = [{"stage": s.stage_index, "cell": s.cell, "in": s.in_channels, "out": s.out_channels,
               "mid": s.mid_channels, "kernel": s.kernel, "stride": s.stride, "se": s.se_channels,
               "act": s.activation, "shortcut": s.shortcut, "drop_path": s.drop_path, "se_style": s.se_style}
              for s in block_specs(g)]
    return {"arch": g.arch, "in_channels": g.in_channels, "resolution": g.resolution,
            "num_classes": g.num_classes, "num_stages": len(g.stages),
            "stem": {"channels": g.stem.channels, "kernel": g.stem.kernel, "stride": g.stem.stride,
                     "act": g.stem.activation, "pool": g.stem.pool},
            "head": {"channels": g.head.channels, "act": g.head.activation, "dropout": g.head.dropout,
                     "hidden": g.head.hidden},
            "blocks": blocks}


def plain_source(genotype: Genotype, data: DataConfig | None = None) -> str:
    """The text of ``model.py`` for ``genotype`` (and the input config ``data``, if known)."""
    template = Path(__file__).with_name("plain_model.py").read_text()
    head, marker, _ = template.partition(_MARKER)
    if not marker:
        raise RuntimeError("plain_model.py lost its marker line")  # a bug, never a user error
    data_literal = None
    if data is not None:
        data_literal = {"mean": list(data.mean), "std": list(data.std), "input_size": list(data.input_size),
                        "resolution": data.resolution, "channels": data.channels,
                        "class_names": list(data.class_names)}
    return (head + marker + "\n"
            + "ARCHITECTURE = " + pprint.pformat(architecture_literal(genotype), sort_dicts=False, width=110) + "\n"
            + "DATA = " + pprint.pformat(data_literal, sort_dicts=False, width=110) + "\n")
