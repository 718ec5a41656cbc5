"""``python -m nas <command>``: the same as the ``nas`` console script and ``run_search.py``."""

import sys

from .cli import main

sys.exit(main())
