"""Fault specifications: ``kill-redis@10s`` / ``kill-service@2.5s`` / ``kill-redis@800ms``.

A fault is a SIGKILL of one process we started, ``at_s`` seconds after the storm began, followed
by a restart on the same port (and, for Redis, the same data dir) after ``down_s`` seconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TARGETS = ("redis", "service")
_PATTERN = re.compile(r"kill-(?P<target>[a-z]+)@(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s)?")


@dataclass(frozen=True)
class Fault:
    """SIGKILL ``target`` at ``at_s`` seconds into the storm, restart it ``down_s`` seconds later."""
    target: str          # "redis" | "service"
    at_s: float
    down_s: float = 0.5

    def __str__(self) -> str:
        return f"kill-{self.target}@{self.at_s:g}s"


def parse_fault(text: str, *, down_s: float = 0.5) -> Fault:
    """``"kill-redis@10s"`` -> Fault("redis", 10.0); ValueError says what is accepted."""
    m = _PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"--fault must look like kill-redis@10s or kill-service@2.5s (got {text!r})")
    target = m.group("target")
    if target not in TARGETS:
        raise ValueError(f"--fault target must be one of {', '.join(TARGETS)} (got {target!r} in {text!r})")
    at_s = float(m.group("value")) / (1000.0 if m.group("unit") == "ms" else 1.0)
    if at_s <= 0:
        raise ValueError(f"--fault time must be > 0 (got {text!r})")
    if down_s < 0:
        raise ValueError(f"down_s must be >= 0 (got {down_s})")
    return Fault(target, at_s, down_s)
