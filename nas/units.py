"""Quantities as users type them (``20M``) and as the toolkit prints them (``20.00M``)."""

from __future__ import annotations

import math

from .errors import UserError

# The one FLOPs convention of every figure the toolkit prints or stores (nas.model.cost counts it).
FLOPS_CONVENTION = "fvcore FLOPs (1 multiply-add = 1 flop, eval mode, batch 1)"


def parse_quantity(text: str | float | int | None, flag: str) -> float | None:
    """``20M``, ``1.5G``, ``300k`` or a plain number; ``flag`` names the option in errors."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    s = text.strip()
    scale = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(s[-1:], 1.0)
    try:
        value = float(s[:-1] if scale != 1.0 else s) * scale
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected a number with an optional k/M/G suffix, e.g. 20M") from None
    if value <= 0 or not math.isfinite(value):
        raise UserError(f"{flag} {text!r}: must be a positive number")
    return value


def human(n: float) -> str:
    """``1234567`` -> ``1.23M``: three significant decimals with a k/M/G suffix."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def parse_milliseconds(text: str | float | None, flag: str) -> float | None:
    """``2ms``, ``500us``, ``0.1s`` or a plain number of milliseconds, as milliseconds."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = text.strip().lower().replace(" ", "")
        for suffix, scale in (("ms", 1.0), ("us", 1e-3), ("µs", 1e-3), ("s", 1e3)):
            if s.endswith(suffix):
                s, factor = s[: -len(suffix)], scale
                break
        else:
            factor = 1.0
        try:
            value = float(s) * factor
        except ValueError:
            raise UserError(f"{flag} {text!r}: expected a time such as 2ms, 500us or 0.1s") from None
    if value <= 0 or not math.isfinite(value):
        raise UserError(f"{flag} {text!r}: must be a positive time")
    return value


def duration(seconds: float) -> str:
    """A time left or taken, as people read it: 45s, 2m05s, 1h12m."""
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"
