"""SIMD fast path for uncapped double_mean, naive and equal over many envelopes.

The scalar step (kernels/steps.py) has a data-dependent rejection loop and an integer division,
which keep the compiler from vectorising. Here VEC envelopes advance one step together with a
branch-free body that LLVM turns into vector code: the quotient R // k from a float reciprocal
with an exact one-step correction (R < 2**52 is checked per block), and Lemire's multiply-shift
draw whose rare rejection zone is only flagged. Flagged lanes are then redone by the scalar step,
so every share equals the scalar kernel's and the Python reference's (tests check it).
"""

from __future__ import annotations

import numpy as np

from . import rng
from ._jit import jit, jit_inline
from .steps import beta_share, step_double_mean, step_equal, step_naive

VEC = 64  # envelopes per block
FLOAT_EXACT = 1 << 52  # float quotient + one correction is exact below this
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)


@jit_inline
def _quotient(R, k, inv_k):
    q = np.int64(np.float64(R) * inv_k)
    q = q - np.int64(q * k > R) + np.int64((q + 1) * k <= R)
    return q, R - q * k


@jit_inline
def draw_below(word, n):
    """Lemire's multiply-shift on the low 32 bits: (value, needs the scalar rejection check)."""
    un = np.uint64(n)
    mm = (word & _LOW32) * un
    return np.int64(mm >> _U32), (mm & _LOW32) < un


@jit_inline
def lane_double_mean(R, k, inv_k, m, word):
    q, r = _quotient(R, k, inv_k)
    top = 2 * q - 1 + np.int64(r > 0) + np.int64(2 * r - 1 >= k)  # largest integer < 2R/k
    hi = max(min(R - (k - 1) * m, top), m)
    u, flag = draw_below(word, hi - m + 1)
    return m + u, flag


@jit_inline
def lane_naive(R, k, inv_k, m, word):
    u, flag = draw_below(word, R - (k - 1) * m - m + 1)
    return m + u, flag


@jit_inline
def lane_equal(R, k, inv_k, m, word):
    q, r = _quotient(R, k, inv_k)
    u, flag = draw_below(word, k)
    return q + np.int64(u < r), flag and r > 0


@jit_inline
def store_block(out, b0, buf, R):
    """Rows b0 .. b0+VEC-1 of ``out`` from a block's shares ``buf[i, lane]``, the last share being
    each lane's remainder ``R[lane]`` (a transpose: lanes were stepped side by side)."""
    count = out.shape[1]
    for j in range(VEC):
        for i in range(count - 1):
            out[b0 + j, i] = buf[i, j]
        out[b0 + j, count - 1] = R[j]


def _vector_rows(lane_fn, step_fn):
    """Build ``rows(out, start, stop, totals, m, seed, ids, R, keys, buf, flags) -> done``: fills
    whole VEC-blocks of rows from ``start`` and returns the first row it left (a short tail or a
    block with totals >= 2**52) for the scalar kernel. Scratch: R, keys, flags of VEC;
    buf of (count, VEC)."""

    def rows(out, start, stop, totals, m, seed, envelope_ids, R, keys, buf, flags):
        count = out.shape[1]
        b0 = start
        while b0 + VEC <= stop:
            big = False
            for j in range(VEC):
                R[j] = totals[b0 + j]
                big |= R[j] >= FLOAT_EXACT
                keys[j] = rng.envelope_key(seed, rng.id_of(envelope_ids, b0 + j))
            if big:
                return b0
            for i in range(count - 1):
                k = count - i
                inv_k = 1.0 / k
                counter = rng.counter_of(i, 0)
                for j in range(VEC):  # branch-free: vectorised
                    s, flag = lane_fn(R[j], k, inv_k, m, rng.draw(keys[j], counter))
                    buf[i, j] = s
                    flags[j] = flag
                    R[j] -= s
                for j in range(VEC):  # rare: redo the lanes whose draw needs the rejection check
                    if flags[j]:
                        before = R[j] + buf[i, j]
                        s = step_fn(before, k, m, -1, keys[j], i)
                        buf[i, j] = s
                        R[j] = before - s
            store_block(out, b0, buf, R)
            b0 += VEC
        return b0

    return jit(rows)


vector_double_mean = _vector_rows(lane_double_mean, step_double_mean)
vector_naive = _vector_rows(lane_naive, step_naive)
vector_equal = _vector_rows(lane_equal, step_equal)


@jit
def vector_beta(out, start, stop, totals, m, seed, envelope_ids, R, keys, fractions, buf):
    """Uncapped beta rows, VEC envelopes side by side: each position's Gamma(2) draw (one
    vectorised log, rng.log_pos), then from the last position down the running suffix sum that
    turns each into its stick-breaking fraction, then the steps. (The first two loops stay apart:
    fused, LLVM does not vectorise them.) No rejection anywhere, so
    no lane falls back; equal to ``sequential_beta_into`` row by row (the same operations in the
    same order). Returns the first row left (a short tail). Scratch: R, keys of VEC; fractions
    (float64) and buf (int64) of (count, VEC)."""
    count = out.shape[1]
    suffix = np.empty(VEC, dtype=np.float64)
    b0 = start
    while b0 + VEC <= stop:
        for j in range(VEC):
            R[j] = totals[b0 + j]
            keys[j] = rng.envelope_key(seed, rng.id_of(envelope_ids, b0 + j))
            suffix[j] = 0.0
        for i in range(count):
            counter = rng.counter_of(i, 0)
            for j in range(VEC):
                fractions[i, j] = rng.gamma2(keys[j], counter)
        for i in range(count - 1, -1, -1):
            for j in range(VEC):
                suffix[j] += fractions[i, j]
                fractions[i, j] = fractions[i, j] / suffix[j]
        for i in range(count - 1):
            k = count - i
            for j in range(VEC):
                s = beta_share(R[j], k, m, np.int64(-1), fractions[i, j])
                buf[i, j] = s
                R[j] -= s
        store_block(out, b0, buf, R)
        b0 += VEC
    return b0
