"""One duration syntax for every command: ``30`` (seconds), ``30s``, ``800ms``, ``2m``, ``1h``,
``1m30s``. ``seconds`` parses; ``flag`` builds the argparse ``type`` that names its flag in errors.

    parser.add_argument("--duration", type=flag("--duration"))      # "2m" -> 120.0
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")


def seconds(text: str | float, flag: str = "--duration") -> float:
    """``"2m"`` -> 120.0; a bare number is seconds. ValueError naming ``flag`` otherwise (and for <= 0)."""
    raw = str(text).strip().lower()
    try:
        value = float(raw)
    except ValueError:
        if not _WHOLE.fullmatch(raw):
            raise ValueError(f"{flag} must look like 30, 30s, 800ms, 2m, 1h or 1m30s (got {text!r})") from None
        value = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(raw))
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{flag} must be > 0 (got {text!r})")
    return value


def flag(name: str) -> Callable[[str], float]:
    """An argparse ``type`` parsing durations for the flag ``name``."""

    def parse(text: str) -> float:
        try:
            return seconds(text, name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "duration"  # argparse's "invalid duration value" fallback
    return parse
