#!/usr/bin/env python3
"""Entry point: ``python run_search.py <command> ...`` (same as the installed ``nas`` command)."""

import sys

from nas.cli import main

if __name__ == "__main__":
    sys.exit(main())
