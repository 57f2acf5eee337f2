"""Fault specifications: ``kill-redis@10s`` / ``kill-service@2.5s`` / ``kill-redis@800ms``, and for
soaks also ``pause-service@40s+3s`` (SIGSTOP, SIGCONT 3 s later) and ``restart-redis@60s`` (a
graceful SHUTDOWN-style stop by SIGTERM, then a start). ``parse_nemesis`` reads a comma-separated
schedule of them; ``default_nemesis`` is the soak's mix, one fault every 20-30 s.

A kill is a SIGKILL of one process we started, ``at_s`` seconds after the load began, followed
by a restart on the same port (and, for Redis, the same data dir) after ``down_s`` seconds.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

TARGETS = ("redis", "service")
ACTIONS = ("kill", "pause", "restart")
PAUSE_S = 3.0  # default SIGSTOP length: longer than the soak client's 2 s timeout
_PATTERN = re.compile(
    r"(?P<action>[a-z]+)-(?P<target>[a-z]+)@(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s)?"
    r"(?:\+(?P<down>\d+(?:\.\d+)?)s)?"
)


@dataclass(frozen=True)
class Fault:
    """``action`` (kill | pause | restart) ``target`` at ``at_s`` seconds into the load; it is
    undone (restart, SIGCONT) ``down_s`` seconds later."""

    target: str  # "redis" | "service"
    at_s: float
    down_s: float = 0.5
    action: str = "kill"

    @property
    def kind(self) -> str:
        return f"{self.action}-{self.target}"

    def __str__(self) -> str:
        return f"{self.kind}@{self.at_s:g}s" + (f"+{self.down_s:g}s" if self.action == "pause" else "")


def parse_fault(text: str, *, down_s: float = 0.5, actions: tuple[str, ...] = ("kill",)) -> Fault:
    """``"kill-redis@10s"`` -> Fault("redis", 10.0); ValueError says what is accepted."""
    m = _PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None or m.group("action") not in actions:
        shapes = " or ".join(f"{a}-redis@10s" for a in actions) + " or kill-service@2.5s"
        raise ValueError(f"--fault must look like {shapes} (got {text!r})")
    target = m.group("target")
    if target not in TARGETS:
        raise ValueError(f"--fault target must be one of {', '.join(TARGETS)} (got {target!r} in {text!r})")
    at_s = float(m.group("value")) / (1000.0 if m.group("unit") == "ms" else 1.0)
    if at_s <= 0:
        raise ValueError(f"--fault time must be > 0 (got {text!r})")
    if m.group("down"):
        down_s = float(m.group("down"))
    elif m.group("action") == "pause":
        down_s = PAUSE_S
    if down_s < 0:
        raise ValueError(f"down_s must be >= 0 (got {down_s})")
    return Fault(target, at_s, down_s, m.group("action"))


def parse_nemesis(text: str) -> list[Fault]:
    """``"kill-redis@20s,pause-service@45s+4s,restart-redis@70s"`` -> faults in time order."""
    faults = sorted(
        (parse_fault(part, actions=ACTIONS) for part in text.split(",") if part.strip()), key=lambda f: f.at_s
    )
    if not faults:
        raise ValueError("--nemesis needs at least one fault, e.g. kill-redis@20s,pause-service@45s")
    for a, b in itertools.pairwise(faults):
        if b.at_s < a.at_s + a.down_s + 1.0:
            raise ValueError(f"--nemesis: {b} starts before {a} is undone and recovered (keep 1 s apart)")
    return faults


DEFAULT_KINDS = ("kill-redis", "kill-service", "pause-service", "pause-redis", "restart-redis")


def default_nemesis(
    duration_s: float,
    *,
    seed: int = 0,
    every_s: tuple[float, float] = (20.0, 30.0),
    first_s: float = 8.0,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
) -> list[Fault]:
    """The default soak schedule: every 20-30 s (seeded) the next of ``kinds``, in turn,
    while there are at least 8 s of load left after it."""
    rng, at = random.Random(seed), first_s
    faults: list[Fault] = []
    while kinds and at + PAUSE_S + 8.0 <= duration_s:
        action, target = kinds[len(faults) % len(kinds)].split("-")
        faults.append(Fault(target, round(at, 1), PAUSE_S if action == "pause" else 0.5, action))
        at += rng.uniform(*every_s)
    return faults
