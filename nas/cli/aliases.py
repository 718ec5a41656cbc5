"""Old flag spellings kept working: the value lands where the new flag's does, and one line on
stderr says what replaced the old one (scripts keep running; their authors learn the new name)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


class RenamedFlag(argparse.Action):
    """``--old VALUE`` stored as ``--new VALUE``, with a note naming ``--new``."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str, **kw: Any) -> None:  # noqa: ANN401
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,  # noqa: ANN401
                 option_string: str | None = None) -> None:
        print(f"note: {option_string} is now {self.new}; the old spelling still works", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_renamed(p: argparse.ArgumentParser, old: str, new: str, **kw: Any) -> None:  # noqa: ANN401
    """``old`` as a working alias of the flag ``new`` (already added), hidden from ``--help``."""
    dest = new.lstrip("-").replace("-", "_")
    p.add_argument(old, dest=dest, action=RenamedFlag, new=new, help=argparse.SUPPRESS, **kw)


