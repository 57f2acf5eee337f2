"""Audit a user's allocator ``(total, count) -> list[int]``: exactness first, then the scorecard.

An allocator that loses or invents a cent, returns the wrong number of shares, a share below the
minimum (or above the cap), or anything but integers is reported broken with the first failing
envelope; it is not scored, because fairness figures of wrong money mean nothing.
"""

from __future__ import annotations

import importlib
import numbers
import random
from collections.abc import Callable, Sequence

import numpy as np

Allocator = Callable[[int, int], list]


def load_callable(spec: str) -> Allocator:
    """Import ``package.module:function``; ValueError says what is wrong with ``spec``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--callable must look like package.module:function (got {spec!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--callable: cannot import module {module_name!r}: {exc}") from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"--callable: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise ValueError(f"--callable: {spec} is not callable (got {type(obj).__name__})")
    return obj


def _problem(shares, total: int, count: int, min_cents: int, max_cents: int | None) -> str | None:
    """Why one allocation is not exact, or None."""
    try:
        values = list(shares)
    except TypeError:
        return f"returned {type(shares).__name__}, not a list of integer cents"
    if len(values) != count:
        return f"returned {len(values)} shares for count = {count}"
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
            return f"share {i} is {type(v).__name__} {v!r}, not an integer number of cents"
    ints = [int(v) for v in values]
    s = sum(ints)
    if s != total:
        return f"shares sum to {s} cents, not total = {total} ({s - total:+d} cents)"
    low = min(ints)
    if low < min_cents:
        return f"share {ints.index(low)} is {low} cents, below min_cents = {min_cents}"
    if max_cents is not None and max(ints) > max_cents:
        high = max(ints)
        return f"share {ints.index(high)} is {high} cents, above max_cents = {max_cents}"
    return None


def run_allocator(
    func: Allocator,
    *,
    total: int,
    count: int,
    envelopes: int,
    seed: int,
    min_cents: int = 1,
    max_cents: int | None = None,
    advance: Callable[[int], None] | None = None,
) -> tuple[np.ndarray | None, dict]:
    """Call ``func(total, count)`` once per envelope, checking each result.

    Python's ``random`` and numpy's legacy global RNG are seeded from ``seed`` first, so an
    allocator drawing from either is reproducible. Returns (matrix, exactness); the matrix is None
    when an envelope failed, and exactness then holds the first failure.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    out = np.empty((envelopes, count), dtype=np.int64)
    step = max(1, envelopes // 100)
    for e in range(envelopes):
        shares: Sequence[int] | None
        problem: str | None
        try:
            shares = func(total, count)
        except Exception as exc:  # a crash is a broken allocator, reported like the others
            problem, shares = f"raised {type(exc).__name__}: {exc}", None
        else:
            problem = _problem(shares, total, count, min_cents, max_cents)
        if problem:
            shown = repr(shares)
            shown = shown if len(shown) <= 300 else shown[:300] + "..."
            return None, {
                "exact": False,
                "checked_envelopes": e + 1,
                "first_failure": {
                    "envelope": e,
                    "total_cents": total,
                    "count": count,
                    "problem": problem,
                    "returned": shown,
                },
            }
        assert shares is not None  # a failed call is a problem, returned above
        out[e] = [int(v) for v in shares]
        if advance and (e + 1) % step == 0:
            advance(step)
    if advance:
        advance(envelopes % step)
    return out, {"exact": True, "checked_envelopes": envelopes}
