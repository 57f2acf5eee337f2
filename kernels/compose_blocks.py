"""Very large uniform compositions in blocks: how line_cut splits a campaign of 10**8 shares fast.

The P - 1 inner points are cut into ``LARGE_BLOCKS`` near-equal blocks. How many of the n cuts fall
in each block is drawn block after block from the hypergeometric law given the blocks before it,
so the counts are jointly those of a uniform n-subset; given its count, each block's cuts are a
uniform subset of its points, drawn on their own (their own counters), so the blocks can run on
all threads and the shares never depend on the thread count.

A sparse block (at least ``SPARSE_MIN_CUTS`` cuts, at most one point in two) is drawn as a
Bernoulli(p) process: geometric gaps ``floor(log u / log(1 - p)) + 1``, one vectorisable
``rng.log_pos`` per cut, with p set ``SPARE_SD`` standard deviations below the count, so the
process almost always holds K' < k points. Given K', those points are a uniform K'-subset; the
k - K' missing cuts are then drawn uniformly among the block's other points (rounds of uniform
points, repeats and points already taken dropped). Both steps are symmetric in the points, so the
k-subset is uniform. A block whose process overshoots k is redrawn from new counters (after
``SPARSE_ATTEMPTS``, Vitter's method); dense or small blocks use ``compose.compose_head``.

A block writes its shares with the first one relative to the block's start (``join`` adds the
points before it) and records its last cut; ``reference.py`` has the same steps in Python.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import rng
from ._jit import jit, jit_inline, jit_parallel
from .compose import compose_head

LARGE_MIN_CUTS = 1 << 16  # from this many cuts an envelope is composed in blocks
LARGE_BLOCKS = 64  # fixed, so the shares never depend on the thread count
BLOCK_SHIFT = 40  # block b draws from counter + (b + 1) << 40; the plan from counter + b
ROUND_SHIFT = 36  # attempt r of a block: its gaps from (r << 36), its missing cuts from + EXTRA_AT
EXTRA_AT = np.int64(1) << 35
SPARSE_MIN_CUTS = 256  # the Bernoulli path: at least this many cuts ...
SPARSE_MAX_DENSITY = 0.5  # ... on at least 1 / density points per cut
SPARE_SD = 6.0  # p aims this many standard deviations below k (overshoot ~ 1e-9)
SPARSE_ATTEMPTS = 8  # overshoots redrawn, then Vitter's method
GAP_CHUNK = 256  # gaps drawn (vectorised) per chunk
#: the hypergeometric walks stop where a weight falls below this fraction of the mode's (the mass
#: left out is below 1e-18, about 9.5 standard deviations each side)
HYPER_TAIL = 1e-20


@jit_inline
def _hyper_ratio(x, N, K, n):
    """pmf(x + 1) / pmf(x) of Hypergeometric(N, K, n)."""
    return (np.float64(K - x) * np.float64(n - x)) / (np.float64(x + 1) * np.float64(N - K - n + x + 1))


@jit
def hypergeometric(u, N, K, n):
    """How many of K marked points a uniform n-subset of N points holds, by inversion at ``u``: the
    weights relative to the mode, walked up and down until negligible and summed, then U * sum
    located from the lowest kept value. IEEE operations only, like ``reference.hypergeometric``."""
    lo = max(np.int64(0), n - (N - K))
    hi = min(K, n)
    mode = min(hi, max(lo, np.int64((np.float64(n) + 1.0) * (np.float64(K) + 1.0) / (np.float64(N) + 2.0))))
    z = 1.0
    w = 1.0
    x = mode
    while x < hi:
        w = w * _hyper_ratio(x, N, K, n)
        x += 1
        if w < HYPER_TAIL:
            break
        z += w
    w = 1.0
    x = mode
    while x > lo:
        below = w / _hyper_ratio(x - 1, N, K, n)
        if below < HYPER_TAIL:
            break
        w = below
        x -= 1
        z += w
    target = u * z
    acc = 0.0
    while x < hi:
        acc += w
        if acc >= target:
            return x
        above = w * _hyper_ratio(x, N, K, n)
        if above < HYPER_TAIL and x >= mode:  # only float rounding left: the last kept value
            return x
        w = above
        x += 1
    return x


@jit
def plan(n, P, key, counter):
    """Rows (first share, cuts, points before, points) of each block."""
    N = P - 1
    rows = np.empty((LARGE_BLOCKS, 4), dtype=np.int64)
    left_points, left_cuts, first, before = N, n, np.int64(0), np.int64(0)
    for b in range(LARGE_BLOCKS):
        w = N // LARGE_BLOCKS + (1 if b < N % LARGE_BLOCKS else 0)
        k = (
            left_cuts
            if b == LARGE_BLOCKS - 1
            else hypergeometric(rng.uniform(key, counter + b), left_points, w, left_cuts)
        )
        rows[b, 0], rows[b, 1], rows[b, 2], rows[b, 3] = first, k, before, w
        first += k
        before += w
        left_points -= w
        left_cuts -= k
    return rows


@jit_inline
def sparse_fits(k, w):
    return k >= SPARSE_MIN_CUTS and np.float64(k) <= SPARSE_MAX_DENSITY * np.float64(w)


@jit_inline
def sparse_p(k, w):
    """The Bernoulli process's p: its mean SPARE_SD standard deviations below k (at least k / 4)."""
    kf = np.float64(k)
    return max(kf - SPARE_SD * math.sqrt(kf), 0.25 * kf) / np.float64(w)


@jit
def bernoulli_points(out, k, w, p, key, counter):
    """A Bernoulli(p) process on points 1..w into out[:K'] in increasing order; returns K', or -1
    when it holds more than k points. Gap j comes from draw counter + j."""
    inv = 1.0 / rng.log_pos(1.0 - p)
    gaps = np.empty(GAP_CHUNK, dtype=np.int64)
    x = np.int64(0)
    i = np.int64(0)
    while True:
        for j in range(GAP_CHUNK):  # vectorised: one log per gap
            gaps[j] = np.int64(rng.log_pos(rng.uniform(key, counter + j)) * inv)
        counter += GAP_CHUNK
        for j in range(GAP_CHUNK):
            x += gaps[j] + 1
            if x > w:
                return i
            if i == k:
                return np.int64(-1)
            out[i] = x
            i += 1


@jit_inline
def _holds(sorted_values, count, v):
    j = np.searchsorted(sorted_values[:count], v)
    return j < count and sorted_values[j] == v


@jit
def missing_points(taken, w, d, key, counter):
    """d points of 1..w uniform among those not in ``taken`` (sorted), sorted: rounds of uniform
    points, dropping repeats and points already held, until d are found."""
    extra = np.empty(d, dtype=np.int64)
    cand = np.empty(d, dtype=np.int64)
    filled = 0
    while filled < d:
        need = d - filled
        for j in range(need):
            v, counter = rng.below(key, counter, w)
            cand[j] = v + 1
        cand[:need].sort()
        new = filled
        for j in range(need):
            v = cand[j]
            if (j > 0 and v == cand[j - 1]) or _holds(taken, taken.shape[0], v) or _holds(extra, filled, v):
                continue
            extra[new] = v
            new += 1
        filled = new
        extra[:filled].sort()
    return extra


@jit_inline
def _take_largest(out, i, extra, j):
    """The larger of out[i] and extra[j] (either side may be used up: index -1); (value, i, j) after."""
    if j < 0 or (i >= 0 and out[i] > extra[j]):
        return out[i], i - 1, j
    return extra[j], i, j - 1


@jit
def merge_gaps(out, held, extra, offset):
    """out[:held] and ``extra`` are sorted points; write the merged sequence's gaps (each plus
    ``offset``, the first from 0) into out from the back, in place (a point is always read before
    its slot is written); returns the last point."""
    i = held - 1
    j = extra.shape[0] - 1
    cur, i, j = _take_largest(out, i, extra, j)
    last = cur
    for at in range(held + extra.shape[0] - 1, -1, -1):
        prev = np.int64(0)
        if at > 0:
            prev, i, j = _take_largest(out, i, extra, j)
        out[at] = cur - prev + offset
        cur = prev
    return last


@jit
def head_block(out, k, w, offset, key, counter):
    """``sparse_block``'s contract by ``compose.compose_head`` (sorted distinct points or Vitter's
    method): the composition of w + 1 into k + 1 parts, its open last part turned into the last point."""
    return w + 1 - (compose_head(out, k, w + 1, offset, key, counter) - offset)


@jit
def sparse_block(out, k, w, offset, key, counter):
    """Gaps of a uniform k-subset of 1..w into out[:k] (the first from 0), each plus ``offset``;
    returns the last point."""
    p = sparse_p(k, w)
    for attempt in range(SPARSE_ATTEMPTS):
        base = counter + (np.int64(attempt) << ROUND_SHIFT)
        held = bernoulli_points(out, k, w, p, key, base)
        if held >= 0:
            extra = missing_points(out[:held], w, k - held, key, base + EXTRA_AT)
            return merge_gaps(out, held, extra, offset)
    return head_block(out, k, w, offset, key, counter + (np.int64(SPARSE_ATTEMPTS) << ROUND_SHIFT))


@jit
def block(out, b, rows, offset, key, counter, last):
    """Block b's shares into out (its first relative to the block's start) and its last cut."""
    first, k, w = rows[b, 0], rows[b, 1], rows[b, 3]
    if k == 0:
        return
    counter = counter + (np.int64(b + 1) << BLOCK_SHIFT)
    part = out[first : first + k]
    if sparse_fits(k, w):
        last[b] = sparse_block(part, k, w, offset, key, counter)
    else:
        last[b] = head_block(part, k, w, offset, key, counter)


@jit
def join(out, n, P, offset, rows, last):
    """Each block's first share gets the points between the previous cut and the block's start;
    the envelope's last share is what follows the last cut."""
    last_cut = np.int64(0)
    for b in range(LARGE_BLOCKS):
        first, k, before = rows[b, 0], rows[b, 1], rows[b, 2]
        if k > 0:
            out[first] += before - last_cut
            last_cut = before + last[b]
    out[n] = P - last_cut + offset


@jit
def compose_blocks(out, P, offset, key, counter):
    """Uniform composition of P into out.shape[0] positive parts, each plus ``offset``, in blocks."""
    n = out.shape[0] - 1
    rows = plan(n, P, key, counter)
    last = np.empty(LARGE_BLOCKS, dtype=np.int64)
    for b in range(LARGE_BLOCKS):
        block(out, b, rows, offset, key, counter, last)
    join(out, n, P, offset, rows, last)


@jit_parallel
def compose_blocks_parallel(out, P, offset, key, counter):
    """``compose_blocks`` with the blocks on all threads: the same shares."""
    n = out.shape[0] - 1
    rows = plan(n, P, key, counter)
    last = np.empty(LARGE_BLOCKS, dtype=np.int64)
    for b in numba.prange(LARGE_BLOCKS):
        block(out, b, rows, offset, key, counter, last)
    join(out, n, P, offset, rows, last)
