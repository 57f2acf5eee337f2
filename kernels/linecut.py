"""line_cut as a Numba kernel: an exactly uniform random composition of the total.

Shares of at least ``m`` summing to T are, after subtracting ``m - 1`` from each, compositions of
P = T - N(m-1) into N positive parts: N-1 distinct cuts among the P-1 inner points, all subsets
equally likely. Up to ``LARGE_MIN_CUTS`` cuts they are drawn by ``compose.py`` (sorted distinct
points for a few cuts, Vitter's sequential sampling otherwise); more in blocks
(``compose_blocks.py``, on all threads for one large uncapped envelope): 10**8 shares in 0.22 s
on 2 threads and only the output array. A cap ``M`` is met by redrawing up to ``CAP_ATTEMPTS`` times,
then by moving the overflow to neighbours with room, starting at a random position (exact,
near-uniform).
"""

from __future__ import annotations

import numpy as np

from . import rng
from ._jit import jit
from .compose import compose_head, small_counter, small_fits
from .compose_blocks import LARGE_MIN_CUTS, compose_blocks, compose_blocks_parallel
from .vector import VEC, draw_below

CAP_ATTEMPTS = 4
ATTEMPT_SHIFT = 48  # counters of attempt a start at a << 48


@jit
def _compose(out, P, offset, key, counter):
    """Uniform composition of P into out.shape[0] positive parts, each plus ``offset``."""
    n = out.shape[0] - 1
    if n >= LARGE_MIN_CUTS:
        compose_blocks(out, P, offset, key, counter)
    else:
        out[n] = compose_head(out, n, P, offset, key, counter)


@jit
def line_cut_parallel_into(out, total, m, key):
    """``line_cut_into`` of one uncapped envelope of more than LARGE_MIN_CUTS shares, its blocks
    on all threads (attempt 0 always stands without a cap): the same shares."""
    compose_blocks_parallel(out, total - out.shape[0] * (m - 1), m - 1, key, np.int64(0))


@jit
def line_cut_into(out, total, m, M, key):
    count = out.shape[0]
    P = total - count * (m - 1)
    for attempt in range(CAP_ATTEMPTS):
        _compose(out, P, m - 1, key, np.int64(attempt) << ATTEMPT_SHIFT)
        if M < 0 or out.max() <= M:
            return
    overflow = np.int64(0)
    for i in range(count):
        if out[i] > M:
            overflow += out[i] - M
            out[i] = M
    start, _ = rng.below(key, np.int64(CAP_ATTEMPTS) << ATTEMPT_SHIFT, count)
    i = start
    while overflow > 0:
        room = M - out[i]
        give = room if room < overflow else overflow
        out[i] += give
        overflow -= give
        i = i + 1 if i + 1 < count else 0


@jit
def vector_line_cut(out, start, stop, totals, m, seed, envelope_ids, P, keys, buf, flags):
    """Uncapped rows of a fixed-count batch, VEC envelopes side by side on the sorted-distinct
    path: draws with Lemire's multiply-shift (its rare rejection zone only flagged), an odd-even
    transposition sort and the repeat check, all branch-free across lanes so LLVM vectorises them.
    Flagged lanes (rejection zone, a repeat) are redone by ``line_cut_into``, so every row equals
    the scalar kernel's. Returns the first row it left (a short tail, or a block where some
    envelope is off the small path) for the scalar kernel. Scratch: P, keys, flags of VEC; buf of
    (count, VEC)."""
    count = out.shape[1]
    n = count - 1
    offset = m - 1
    b0 = start
    while b0 + VEC <= stop:
        fits = True
        for j in range(VEC):
            P[j] = totals[b0 + j] - count * offset
            fits &= small_fits(n, P[j] - 1)
            keys[j] = rng.envelope_key(seed, rng.id_of(envelope_ids, b0 + j))
            flags[j] = False
        if not fits:
            return b0
        for i in range(n):
            counter = small_counter(np.int64(0), 0, i)
            for j in range(VEC):
                v, flag = draw_below(rng.draw(keys[j], counter), P[j] - 1)
                buf[i, j] = v + 1
                flags[j] |= flag
        for rnd in range(n):
            for i in range(rnd & 1, n - 1, 2):
                for j in range(VEC):
                    a = buf[i, j]
                    b = buf[i + 1, j]
                    buf[i, j] = min(a, b)
                    buf[i + 1, j] = max(a, b)
        for i in range(n - 1):
            for j in range(VEC):
                flags[j] |= buf[i, j] == buf[i + 1, j]
        for j in range(VEC):
            if flags[j]:
                line_cut_into(out[b0 + j], totals[b0 + j], m, np.int64(-1), keys[j])
                continue
            prev = np.int64(0)
            for i in range(n):
                out[b0 + j, i] = buf[i, j] - prev + offset
                prev = buf[i, j]
            out[b0 + j, n] = P[j] - prev + offset
        b0 += VEC
    return b0
