"""``--storage-retry SECONDS``: how long every storage call waits out an outage."""

from __future__ import annotations

import argparse

from ..errors import UserError


def add_storage_retry(p: argparse.ArgumentParser) -> None:
    from ..study.store.defaults import DEFAULT_STORAGE_RETRY as DEFAULT_WINDOW

    p.add_argument("--storage-retry", type=float, default=DEFAULT_WINDOW, metavar="SECONDS",
                   help=f"retry storage calls through an outage for this long (default {DEFAULT_WINDOW:g} s: a "
                        f"server restart or a managed database's failover); after it, finished results go "
                        f"to results/<study>/recovery/ and the command exits with code 3")


def storage_retry_of(args: argparse.Namespace) -> float:
    """The checked window. It travels on the job objects to every worker (nas.study.store.retrying),
    never through the environment: an in-process caller's next search starts from the default."""
    if not args.storage_retry > 0:
        raise UserError(f"--storage-retry must be a positive number of seconds, got {args.storage_retry:g}")
    return float(args.storage_retry)
