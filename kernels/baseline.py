"""Idiomatic pure-Python splitters on the stdlib ``random`` module: the speed baseline.

Speed claims are made against these, the fastest plain-Python way to write each rule (local
bindings, ``random.random()`` scaling, no counter RNG), never against the slower reference
twins. They honour the same min/max constraints, but not the (seed, envelope_id) reproducibility:
a ``random.Random`` instance is their only state.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Baseline = Callable[..., list]


def _bounds(R: int, k: int, m: int, M: int | None) -> tuple[int, int]:
    hi = R - (k - 1) * m
    if M is None:
        return m, hi
    return max(m, R - (k - 1) * M), min(hi, M)


def double_mean(total: int, count: int, m: int = 1, M: int | None = None, r: random.Random = random._inst) -> list:
    rand = r.random
    shares: list[int] = []
    append = shares.append
    R = total
    for k in range(count, 1, -1):
        lo, hi = _bounds(R, k, m, M) if M is not None else (m, R - (k - 1) * m)
        top = (2 * R - 1) // k
        if top < hi:
            hi = top
        if hi < lo:
            hi = lo
        s = lo + int(rand() * (hi - lo + 1))
        append(s)
        R -= s
    append(R)
    return shares


def naive(total: int, count: int, m: int = 1, M: int | None = None, r: random.Random = random._inst) -> list:
    rand = r.random
    shares = []
    R = total
    for k in range(count, 1, -1):
        lo, hi = _bounds(R, k, m, M)
        s = lo + int(rand() * (hi - lo + 1))
        shares.append(s)
        R -= s
    shares.append(R)
    return shares


def equal(total: int, count: int, m: int = 1, M: int | None = None, r: random.Random = random._inst) -> list:
    q, rem = divmod(total, count)
    shares = [q] * count
    for i in r.sample(range(count), rem):
        shares[i] += 1
    return shares


def line_cut(total: int, count: int, m: int = 1, M: int | None = None, r: random.Random = random._inst) -> list:
    P = total - count * (m - 1)
    while True:
        cuts = sorted(r.sample(range(1, P), count - 1))
        edges = [0, *cuts, P]
        # consecutive pairs (the lengths differ by one on purpose); no strict= keyword: in this hot
        # loop the keyword's parsing alone costs the c2 baseline 6-7%
        shares = [b - a + m - 1 for a, b in zip(edges, edges[1:])]  # noqa: B905
        if M is None or max(shares) <= M:
            return shares


def beta(
    total: int, count: int, m: int = 1, M: int | None = None, r: random.Random = random._inst, c: float = 2.0
) -> list:
    betavariate = r.betavariate
    shares = []
    R = total
    for k in range(count, 1, -1):
        lo, hi = _bounds(R, k, m, M)
        s = m + int((R - k * m) * betavariate(c, c * (k - 1)) + 0.5)
        s = min(max(s, lo), hi)
        shares.append(s)
        R -= s
    shares.append(R)
    return shares


BASELINES: dict[str, Baseline] = {
    "double_mean": double_mean,
    "line_cut": line_cut,
    "naive": naive,
    "equal": equal,
    "beta": beta,
}
