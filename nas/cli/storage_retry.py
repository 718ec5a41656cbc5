"""``--storage-retry SECONDS``: how long every storage call waits out an outage."""

from __future__ import annotations

import argparse
import os

from ..errors import UserError


def add_storage_retry(p: argparse.ArgumentParser) -> None:
    from ..study.budgets import DEFAULT_STORAGE_RETRY as DEFAULT_WINDOW

    p.add_argument("--storage-retry", type=float, default=None, metavar="SECONDS",
                   help=f"retry storage calls through an outage for this long (default {DEFAULT_WINDOW:g} s: a "
                        f"server restart or a managed database's failover); after it, finished results go "
                        f"to results/<study>/recovery/ and the command exits with code 3")


def apply_storage_retry(args: argparse.Namespace) -> None:
    from ..study.retrying import ENV_WINDOW  # read by every storage wrapper; spawned workers inherit it

    if args.storage_retry is None:
        return
    if not args.storage_retry > 0:
        raise UserError(f"--storage-retry must be a positive number of seconds, got {args.storage_retry:g}")
    os.environ[ENV_WINDOW] = str(args.storage_retry)
