"""Input checks shared by every entry point: each error names the field and the constraint."""

from __future__ import annotations

import numbers

import numpy as np

INT64_MAX = int(np.iinfo(np.int64).max)
NO_CAP = -1  # the kernels' encoding of max_cents=None
MAX_COUNT = 10**9  # shares in one envelope: 8 GB of int64 output (a campaign of 10**8 is the design point)


def as_cents(value, field: str, *, minimum: int = 0) -> int:
    """An exact integer amount in [minimum, 2**63-1]; rejects bools, floats and strings."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{field} must be an integer number of cents (got {type(value).__name__} {value!r})")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{field} must be >= {minimum} (got {value})")
    if value > INT64_MAX:
        raise ValueError(f"{field} must fit in int64, <= {INT64_MAX} (got {value})")
    return value


def check_split(total, count, min_cents=1, max_cents=None) -> tuple[int, int, int, int]:
    """Validate one envelope; returns (total, count, min, max) with max = NO_CAP when uncapped."""
    total = as_cents(total, "total_cents")
    count = as_cents(count, "count", minimum=1)
    if count > MAX_COUNT:
        raise ValueError(f"count must be <= {MAX_COUNT} shares per envelope (got {count})")
    min_cents = as_cents(min_cents, "min_cents")
    if total < count * min_cents:
        raise ValueError(
            f"total_cents must be >= count x min_cents = {count} x {min_cents} = {count * min_cents} (got {total})"
        )
    if max_cents is None:
        return total, count, min_cents, NO_CAP
    max_cents = as_cents(max_cents, "max_cents", minimum=1)
    if max_cents < min_cents:
        raise ValueError(f"max_cents must be >= min_cents = {min_cents} (got {max_cents})")
    if total > count * max_cents:
        raise ValueError(
            f"total_cents must be <= count x max_cents = {count} x {max_cents} = {count * max_cents} (got {total})"
        )
    return total, count, min_cents, max_cents
