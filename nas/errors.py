"""Errors that are the user's to fix.

Anything raised as :class:`UserError` is printed by the CLI as one line (no traceback) and exits
with code 2. Everything else is a bug or a failing candidate, and is handled elsewhere.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user gave us: a file, a flag, a dataset, a storage URL."""

    exit_code = 2


def allowed(values: object) -> str:
    """Format a collection of allowed values for an error message."""
    if isinstance(values, (list, tuple, set, frozenset)):
        return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)
    return str(values)
