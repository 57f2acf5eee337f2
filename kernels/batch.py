"""Numba entry points: one envelope, and many at once (serial loop or ``prange`` over envelopes).

Every envelope gets its own key from (seed, envelope_id) and writes only its own row or slice,
so nothing shared is written inside ``prange`` and the result is independent of thread count.
"""

from __future__ import annotations

import numba
import numpy as np

from . import rng
from ._jit import jit, jit_parallel
from .compose_blocks import LARGE_MIN_CUTS
from .linecut import line_cut_into, line_cut_parallel_into, vector_line_cut
from .registry import BETA, DOUBLE_MEAN, EQUAL, LINE_CUT, NAIVE
from .steps import rows_beta, rows_double_mean, rows_equal, rows_naive, sequential_into
from .validate import INT64_MAX, MAX_COUNT
from .vector import VEC, vector_beta, vector_double_mean, vector_equal, vector_naive


@jit
def split_into(out, alg, total, m, M, seed, envelope_id):
    key = rng.envelope_key(seed, envelope_id)
    if alg == LINE_CUT:
        line_cut_into(out, total, m, M, key)
    else:
        sequential_into(out, alg, total, m, M, key)


#: above this count a fixed-count batch goes row by row through the ragged kernels (kernels.split_batch):
#: the SIMD path's count x VEC scratch does not pay there, and at a campaign's count it would not fit
VECTOR_MAX_COUNT = 4096


@jit
def _fixed_range(out, start, stop, alg, totals, m, M, seed, envelope_ids):
    """Rows [start, stop) of a fixed-count batch: the SIMD path where it applies (uncapped
    double_mean, naive, equal, line_cut, beta; count >= 2), then scalar lanes for whatever it left."""
    count = out.shape[1]
    if alg == LINE_CUT:
        P = np.empty(VEC, dtype=np.int64)
        keys = np.empty(VEC, dtype=np.uint64)
        buf = np.empty((count, VEC), dtype=np.int64)
        flags = np.empty(VEC, dtype=np.bool_)
        while start < stop:
            if M < 0 and count >= 2:
                start = vector_line_cut(out, start, stop, totals, m, seed, envelope_ids, P, keys, buf, flags)
            end = stop if M >= 0 or count < 2 else min(stop, start + VEC)
            for e in range(start, end):
                split_into(out[e], alg, totals[e], m, M, seed, rng.id_of(envelope_ids, e))
            start = end
        return
    remaining = np.empty(VEC, dtype=np.int64)
    keys = np.empty(VEC, dtype=np.uint64)
    if alg == BETA and M < 0:
        fractions = np.empty((count, VEC), dtype=np.float64)
        shares = np.empty((count, VEC), dtype=np.int64)
        start = vector_beta(out, start, stop, totals, m, seed, envelope_ids, remaining, keys, fractions, shares)
    while start < stop:
        if M < 0 and count >= 2 and alg != BETA:
            buf = np.empty((count, VEC), dtype=np.int64)
            flags = np.empty(VEC, dtype=np.bool_)
            args = (totals, m, seed, envelope_ids, remaining, keys, buf, flags)
            if alg == DOUBLE_MEAN:
                start = vector_double_mean(out, start, stop, *args)
            elif alg == NAIVE:
                start = vector_naive(out, start, stop, *args)
            else:
                start = vector_equal(out, start, stop, *args)
        # scalar lanes: a short tail, a block of huge totals, caps, beta
        end = stop if (M >= 0 or alg == BETA or count < 2) else min(stop, start + VEC)
        if end <= start:
            break
        args2 = (totals, m, M, seed, envelope_ids, remaining, keys)
        if alg == DOUBLE_MEAN:
            rows_double_mean(out, start, end, *args2)
        elif alg == NAIVE:
            rows_naive(out, start, end, *args2)
        elif alg == EQUAL:
            rows_equal(out, start, end, *args2)
        else:
            rows_beta(out, start, end, *args2)
        start = end


CHUNK = 16 * VEC  # rows per parallel work item: a multiple of the SIMD block


@jit
def split_fixed_serial(out, alg, totals, m, M, seed, envelope_ids):
    _fixed_range(out, 0, totals.shape[0], alg, totals, m, M, seed, envelope_ids)


@jit_parallel
def split_fixed_parallel(out, alg, totals, m, M, seed, envelope_ids):
    """Envelopes cut into contiguous chunks of CHUNK rows; each chunk writes only its own rows
    (whatever the thread count, so the result never depends on it)."""
    n = totals.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    for c in numba.prange(chunks):
        _fixed_range(out, c * CHUNK, min(n, (c + 1) * CHUNK), alg, totals, m, M, seed, envelope_ids)


@jit
def split_ragged_serial(out, offsets, alg, totals, m, M, seed, envelope_ids):
    for e in range(totals.shape[0]):
        split_into(out[offsets[e] : offsets[e + 1]], alg, totals[e], m, M, seed, rng.id_of(envelope_ids, e))


@jit_parallel
def split_ragged_parallel(out, offsets, alg, totals, m, M, seed, envelope_ids):
    for e in numba.prange(totals.shape[0]):
        split_into(out[offsets[e] : offsets[e + 1]], alg, totals[e], m, M, seed, rng.id_of(envelope_ids, e))


@jit
def split_campaigns_parallel(out, alg, totals, m, M, seed, envelope_ids):
    """Uncapped line_cut rows of more than LARGE_MIN_CUTS shares: one envelope after another, each
    with its blocks on all threads (linecut.line_cut_parallel_into): the same shares."""
    for e in range(totals.shape[0]):
        line_cut_parallel_into(out[e], totals[e], m, rng.envelope_key(seed, rng.id_of(envelope_ids, e)))


def campaign(alg: int, count: int, M: int) -> bool:
    """An uncapped line_cut envelope large enough for its blocks to run on all threads."""
    return alg == LINE_CUT and M < 0 and count - 1 >= LARGE_MIN_CUTS


@jit
def first_bad_row(totals, counts, envelope_ids, m, M, line_cut):
    """Index of the first envelope breaking a constraint, or -1: one pass, no int64 overflow
    (bounds compared by division, never by counts * m). ``counts`` of length 1 is one count for
    every envelope; ``envelope_ids`` may be empty (ids are then the row numbers)."""
    fixed = counts.shape[0] == 1
    for e in range(totals.shape[0]):
        t = totals[e]
        c = counts[0] if fixed else counts[e]
        if c < 1 or c > MAX_COUNT or t < 0 or (envelope_ids.shape[0] and envelope_ids[e] < 0):
            return e
        small = c <= 0x7FFFFFFF  # then c * m and c * M fit in int64 when m, M do below
        if (t < c * m) if (small and m <= 0x7FFFFFFF) else (t // c < m):
            return e
        if M >= 0 and ((t > c * M) if (small and M <= 0x7FFFFFFF) else (t // c + (t % c != 0) > M)):
            return e
        if line_cut and m == 0 and t > INT64_MAX - c:
            return e
    return -1


def split_one(alg: int, total: int, count: int, m: int, M: int, seed: int, envelope_id: int) -> np.ndarray:
    out = np.empty(count, dtype=np.int64)
    if campaign(alg, count, M):
        line_cut_parallel_into(out, np.int64(total), np.int64(m), np.uint64(rng.py_envelope_key(seed, envelope_id)))
        return out
    split_into(out, alg, np.int64(total), np.int64(m), np.int64(M), np.uint64(seed), np.uint64(envelope_id))
    return out
