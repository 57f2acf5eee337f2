"""Example user allocators ``(total, count) -> list[int]`` for the --callable audit tests.

Each draws from Python's ``random`` module, which the audit seeds, as production code would.
"""

from __future__ import annotations

import itertools
import random


def fair_cuts(total: int, count: int) -> list[int]:
    """Correct and exchangeable: count-1 distinct random cuts of the line 1..total-1."""
    cuts = sorted(random.sample(range(1, total), count - 1))
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


def loses_a_cent(total: int, count: int) -> list[int]:
    """A classic bug: float weights truncated to cents, so the rounding loss (often a cent) vanishes."""
    weights = [random.random() + 0.01 for _ in range(count)]
    scale = total / sum(weights)
    return [max(1, int(w * scale)) for w in weights]


def below_minimum(total: int, count: int) -> list[int]:
    """Sums right but can hand out 0 cents: double mean with round() and no floor."""
    shares, remaining = [], total
    for left in range(count, 1, -1):
        s = round(random.uniform(0, 2 * remaining / left))
        s = min(s, remaining)
        shares.append(s)
        remaining -= s
    return shares + [remaining]


def first_grabber_bias(total: int, count: int) -> list[int]:
    """Exact but position-biased: each grabber takes uniform in [1, what keeps the rest feasible]."""
    shares, remaining = [], total
    for left in range(count, 1, -1):
        s = random.randint(1, remaining - (left - 1))
        shares.append(s)
        remaining -= s
    return shares + [remaining]


def float_shares(total: int, count: int) -> list[float]:
    """Returns floats (yuan-style thinking): not integer cents."""
    return [total / count] * count


def crashes(total: int, count: int) -> list[int]:
    """Raises on every call."""
    raise RuntimeError("allocator crashed")


not_callable = 42
