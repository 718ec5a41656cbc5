"""Command line: ``nas <command>`` or ``python run_search.py <command>``.

User errors (:class:`nas.errors.UserError`) print one line to stderr and exit with code 2. Each
command group is a module of this package with an ``add_<command>`` function that registers its
sub-parser; handlers import what they need when they run, so ``nas --help`` does not import torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..errors import UserError
from . import calibrate, describe, export, retrain, scale, search, studies


class DefaultsHelp(argparse.HelpFormatter):
    """``--help`` states every default: appended where the help text does not already say it
    (a default of None or False means "not given" and is not shown)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or "default" in text or action.default in (None, False, argparse.SUPPRESS)
                or text == argparse.SUPPRESS):
            return action.help
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as a UserError (one line, exit 2) like every other mistake,
    and whose ``--help`` states the defaults."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelp)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nas", description="Neural architecture search and compound scaling.")
    parser.add_argument("--version", action="version", version=f"nas-toolkit {_version()}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", parser_class=_Parser)
    describe.add_inspect(sub)
    describe.add_space(sub)
    search.add_search(sub)
    search.add_pareto(sub)
    studies.add_studies(sub)
    calibrate.add_calibrate(sub)
    scale.add_scale(sub)
    retrain.add_retrain(sub)
    export.add_export(sub)
    for name, command in sub.choices.items():
        if name not in ("inspect", "space"):
            command.add_argument("--results-dir", default=None, metavar="DIR",
                                 help="where studies keep their files (default: $NAS_RESULTS_DIR, else "
                                      "./results)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nas-toolkit")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


@contextmanager
def _results_in(folder: str | None) -> Iterator[None]:
    """``--results-dir``: through the environment, so that worker processes find it too; the
    previous value comes back when the command ends (main() also runs inside tests)."""
    import os

    from ..study.store.storage import RESULTS_ENV

    if folder is None:
        yield
        return
    before = os.environ.get(RESULTS_ENV)
    os.environ[RESULTS_ENV] = folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RESULTS_ENV, None)
        else:
            os.environ[RESULTS_ENV] = before


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    from ..study.run.processes import raise_keyboard_interrupt

    if threading.current_thread() is threading.main_thread():
        # A scheduler's SIGTERM ends a search as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:  # bare `nas`: what it can do
            parser.print_help()
            return 2
        from ..train.epoch_lines import quiet

        with quiet(bool(getattr(args, "quiet", False))), _results_in(getattr(args, "results_dir", None)):
            return int(args.handler(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

