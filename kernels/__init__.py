"""Envelope-splitting kernels: exact integer cents, reproducible from (seed, envelope_id).

Public API::

    split(total, count, *, algorithm, min_cents=1, max_cents=None, seed=0, envelope_id=0, impl="numba")
    split_batch(totals, counts, *, algorithm, ..., envelope_ids=None, impl="numba", parallel=True)
    next_share(remaining_cents, remaining_count, *, algorithm, step, ..., seed=0, envelope_id=0)
    ALGORITHMS   # name -> Algorithm(name, code, online, position_fair, integer_only, summary, ..., version)

A split is a pure function of (algorithm, total, count, min, max, seed, envelope_id).
Bad input raises ValueError naming the field and the constraint.
"""

from __future__ import annotations

import numpy as np

from . import batch as _batch
from . import reference as _reference
from . import rng as _rng
from .registry import ALGORITHMS, LINE_CUT, Algorithm
from .registry import algorithm as lookup
from .validate import INT64_MAX, NO_CAP, as_cents, check_split

__all__ = ["ALGORITHMS", "Algorithm", "split", "split_batch", "next_share", "check", "IMPLS"]

IMPLS = ("numba", "python")


def _impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)} (got {impl!r})")
    return impl


def _seed(value, field: str) -> int:
    value = as_cents(value, field)  # same integer rules: int, >= 0, fits int64
    return value


def check(total, count, *, algorithm: str, min_cents=1, max_cents=None) -> tuple[Algorithm, int, int, int, int]:
    """Validate one envelope for ``algorithm``; returns (Algorithm, total, count, min, max|-1)."""
    algo = lookup(algorithm)
    total, count, m, M = check_split(total, count, min_cents, max_cents)
    if algo.code == LINE_CUT and total - count * (m - 1) > INT64_MAX:
        raise ValueError("total_cents + count must fit in int64 for line_cut with min_cents=0")
    return algo, total, count, m, M


def split(
    total, count, *, algorithm: str, min_cents=1, max_cents=None, seed=0, envelope_id=0, impl: str = "numba"
) -> np.ndarray:
    """Split ``total`` cents among ``count`` people; returns an int64 array of shares in grab order."""
    algo, total, count, m, M = check(total, count, algorithm=algorithm, min_cents=min_cents, max_cents=max_cents)
    seed, envelope_id = _seed(seed, "seed"), _seed(envelope_id, "envelope_id")
    if _impl(impl) == "python":
        return np.array(_reference.split(algo.code, total, count, m, M, seed, envelope_id), dtype=np.int64)
    return _batch.split_one(algo.code, total, count, m, M, seed, envelope_id)


def _as_int64_array(values, field: str, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:  # ragged or nested input: numpy's message names no field
        raise ValueError(f"{field} must be a 1-D sequence of integers ({exc})") from None
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, arr)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be a 1-D sequence of integers (got shape {arr.shape})")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{field} must hold integers (got dtype {arr.dtype})")
    if arr.size and arr.dtype.kind == "u" and arr.max() > INT64_MAX:  # would wrap to negative
        raise ValueError(f"{field} must fit in int64, <= {INT64_MAX} (got {arr.max()})")
    return arr.astype(np.int64, copy=False)


def split_batch(
    totals,
    counts,
    *,
    algorithm: str,
    min_cents=1,
    max_cents=None,
    seed=0,
    envelope_ids=None,
    impl: str = "numba",
    parallel: bool = True,
    out: np.ndarray | None = None,
):
    """Split many envelopes at once.

    ``counts`` an int: returns a 2-D array (envelopes x count). ``counts`` a sequence: returns
    ``(shares, offsets)``, envelope ``e`` owning ``shares[offsets[e]:offsets[e+1]]``.
    Envelope ``e`` uses ``envelope_ids[e]`` (default ``e``), so its split equals ``split(...)``.
    ``out``: an optional preallocated C-contiguous int64 array of the result's shape (fixed count,
    Numba only), reused across calls as with numpy's ``out=``.
    """
    totals = _as_int64_array(totals, "totals")
    n = totals.shape[0]
    try:
        fixed = np.ndim(counts) == 0
    except (ValueError, TypeError) as exc:  # ragged nesting: numpy's own message names no field
        raise ValueError(f"counts must be an integer or a 1-D sequence of integers ({exc})") from None
    if fixed:
        as_cents(counts, "count", minimum=1)  # also for an empty batch: it sets the array shape
    # a fixed count stays one value and default ids stay implicit (row numbers): no batch-sized
    # temporaries on the fast path (they cost as much as the split on 10**6 envelopes)
    counts_arr = _as_int64_array([counts] if fixed else counts, "counts")
    ids = np.empty(0, dtype=np.int64) if envelope_ids is None else _as_int64_array(envelope_ids, "envelope_ids")
    if (not fixed and counts_arr.shape[0] != n) or (envelope_ids is not None and ids.shape[0] != n):
        raise ValueError(
            f"totals, counts and envelope_ids must have the same length (got {n}, "
            f"{1 if fixed else counts_arr.shape[0]}, {n if envelope_ids is None else ids.shape[0]})"
        )
    algo = lookup(algorithm)
    seed = _seed(seed, "seed")
    m, M = _min_max(min_cents, max_cents)
    e = _batch.first_bad_row(totals, counts_arr, ids, m, M, algo.code == LINE_CUT) if n else -1
    if e >= 0:  # the first bad row raises, naming the field and the constraint
        if ids.shape[0]:
            as_cents(int(ids[e]), "envelope_id")
        check(
            int(totals[e]),
            int(counts_arr[0 if fixed else e]),
            algorithm=algorithm,
            min_cents=m,
            max_cents=None if M == NO_CAP else M,
        )
    if _impl(impl) == "python":
        all_ids = ids if ids.shape[0] else np.arange(n)
        all_counts = np.full(n, counts_arr[0]) if fixed else counts_arr
        rows = [
            _reference.split(algo.code, int(t), int(c), m, M, seed, int(i))
            for t, c, i in zip(totals, all_counts, all_ids, strict=True)
        ]
        if fixed:
            return np.array(rows, dtype=np.int64).reshape(n, int(counts))
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts_arr, out=offsets[1:])
        return np.array([s for row in rows for s in row], dtype=np.int64), offsets
    useed = np.uint64(seed)
    uids = ids.view(np.uint64)  # checked >= 0 above
    if fixed:
        shape = (n, int(counts))
        if out is None:
            out = np.empty(shape, dtype=np.int64)
        elif out.shape != shape or out.dtype != np.int64 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous int64 array of shape {shape} (got {out.dtype} {out.shape})")
        args = (algo.code, totals, np.int64(m), np.int64(M), useed, uids)
        if parallel and _batch.campaign(algo.code, int(counts), M):
            _batch.split_campaigns_parallel(out, *args)
        elif int(counts) > _batch.VECTOR_MAX_COUNT:  # row by row, without the SIMD path's scratch
            kernel = _batch.split_ragged_parallel if parallel else _batch.split_ragged_serial
            kernel(out.reshape(-1), np.arange(n + 1, dtype=np.int64) * int(counts), *args)
        else:
            kernel = _batch.split_fixed_parallel if parallel else _batch.split_fixed_serial
            kernel(out, *args)
        return out
    if out is not None:
        raise ValueError("out is only supported for a fixed count")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts_arr, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.int64)
    kernel = _batch.split_ragged_parallel if parallel else _batch.split_ragged_serial
    kernel(out, offsets, algo.code, totals, np.int64(m), np.int64(M), useed, uids)
    return out, offsets


def _min_max(min_cents, max_cents) -> tuple[int, int]:
    m = as_cents(min_cents, "min_cents")
    if max_cents is None:
        return m, NO_CAP
    M = as_cents(max_cents, "max_cents", minimum=1)
    if M < m:
        raise ValueError(f"max_cents must be >= min_cents = {m} (got {M})")
    return m, M


def next_share(
    remaining_cents, remaining_count, *, algorithm: str, step, min_cents=1, max_cents=None, seed=0, envelope_id=0
) -> int:
    """Online (grab-time) form: the share of grab number ``step`` (0-based) when ``remaining_cents``
    are left for ``remaining_count`` people. Equal, grab after grab, to ``split(...)[step]``.
    Only for algorithms with ``online=True``."""
    algo, R, k, m, M = check(
        remaining_cents, remaining_count, algorithm=algorithm, min_cents=min_cents, max_cents=max_cents
    )
    if not algo.online:
        raise ValueError(
            f"algorithm {algo.name} has no online form (online-capable: "
            f"{', '.join(a.name for a in ALGORITHMS.values() if a.online)})"
        )
    step = as_cents(step, "step")
    key = _rng.py_envelope_key(_seed(seed, "seed"), _seed(envelope_id, "envelope_id"))
    return _reference.step_share(algo.code, R, k, m, M, key, step)
