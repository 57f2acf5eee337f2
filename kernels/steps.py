"""Numba kernels: the scalar "next share" step, written once and reused by the serial, parallel
batch and online (grab-time) forms. Readable twins live in kernels/reference.py.

Arguments: remaining ``R`` cents for ``k`` people left, floor ``m``, cap ``M`` (``-1`` = none),
envelope ``key`` from kernels.rng and the 0-based grab position ``step``.
"""

from __future__ import annotations

import math

import numpy as np

from . import rng
from ._jit import jit, jit_inline
from .registry import BETA, DOUBLE_MEAN, EQUAL, NAIVE


@jit_inline
def feasible_range(R, k, m, M):
    """[lo, hi] a share may take so that the k-1 others can still each get between m and M."""
    hi = R - (k - 1) * m
    lo = m
    if M >= 0:
        if M < hi:
            hi = M
        if M <= R // (k - 1):  # (k-1)*M cannot overflow here
            t = R - (k - 1) * M
            if t > lo:
                lo = t
    return lo, hi


@jit_inline
def step_double_mean(R, k, m, M, key, step):
    lo, hi = feasible_range(R, k, m, M)
    q = R // k
    r = R - q * k
    # largest integer < 2R/k = 2q + 2r/k: with 0 <= r < k, (2r - 1) // k is 0 or 1
    top = 2 * q - 1 if r == 0 else (2 * q + 1 if 2 * r - 1 >= k else 2 * q)
    if top < hi:
        hi = top
    if hi < lo:
        hi = lo
    u, _ = rng.below(key, rng.counter_of(step, 0), hi - lo + 1)
    return lo + u


@jit_inline
def step_naive(R, k, m, M, key, step):
    lo, hi = feasible_range(R, k, m, M)
    u, _ = rng.below(key, rng.counter_of(step, 0), hi - lo + 1)
    return lo + u


@jit_inline
def step_equal(R, k, m, M, key, step):
    q = R // k
    r = R - q * k
    if r == 0:
        return q
    u, _ = rng.below(key, rng.counter_of(step, 0), k)
    return q + 1 if u < r else q


@jit_inline
def beta_share(R, k, m, M, fraction):
    """The share when ``fraction`` (in (0, 1]) of the excess R - k*m is due: rounded half up,
    then kept inside the feasible range."""
    lo, hi = feasible_range(R, k, m, M)
    want = np.float64(R - k * m) * fraction + 0.5
    if want >= np.float64(hi - m):
        return hi
    x = np.int64(math.floor(want))
    if x < lo - m:
        x = lo - m
    return m + x


@jit_inline
def beta_fraction(key, step, k):
    """G_step / (G_step + ... + G_{step+k-1}), G_j ~ Gamma(c=2) from step j's own draws, the sum
    taken from the last position down (the batch's suffix sums, bit for bit): Beta(c, c(k-1)),
    the stick-breaking of one Dirichlet(c, ..., c) drawn for the whole envelope. O(k)."""
    draws = np.empty(k, dtype=np.float64)
    for j in range(k):  # independent draws, so the loop vectorises (summing as drawn would not)
        draws[j] = rng.gamma2(key, rng.counter_of(step + j, 0))
    total = 0.0
    for j in range(k - 1, 0, -1):
        total += draws[j]
    g = draws[0]
    return g / (total + g)


@jit_inline
def step_beta(R, k, m, M, key, step):
    return beta_share(R, k, m, M, beta_fraction(key, step, k))


@jit
def sequential_beta_into(out, total, m, M, key):
    """A whole beta split in O(count): the Gamma(2) draws of every position, turned into the
    stick-breaking fractions by suffix sums from the last position down (as ``beta_fraction``)."""
    count = out.shape[0]
    fractions = np.empty(count, dtype=np.float64)
    suffix = 0.0
    for j in range(count - 1, -1, -1):
        g = rng.gamma2(key, rng.counter_of(j, 0))
        suffix += g
        fractions[j] = g / suffix
    remaining = total
    for i in range(count - 1):
        s = beta_share(remaining, count - i, m, M, fractions[i])
        out[i] = s
        remaining -= s
    out[count - 1] = remaining


@jit
def step_share(alg, R, k, m, M, key, step):
    """The share of grab number ``step`` when R cents remain for k people (k >= 1)."""
    if k == 1:
        return R
    if alg == DOUBLE_MEAN:
        return step_double_mean(R, k, m, M, key, step)
    if alg == NAIVE:
        return step_naive(R, k, m, M, key, step)
    if alg == EQUAL:
        return step_equal(R, k, m, M, key, step)
    if alg == BETA:
        return step_beta(R, k, m, M, key, step)
    return -1  # unknown code: callers validate names first


@jit
def sequential_into(out, alg, total, m, M, key):
    """Fill ``out`` with a whole split made of successive steps (all algorithms but line_cut)."""
    if alg == BETA:
        sequential_beta_into(out, total, m, M, key)
        return
    count = out.shape[0]
    remaining = total
    for i in range(count):
        s = step_share(alg, remaining, count - i, m, M, key, i)
        out[i] = s
        remaining -= s


LANES = 8  # envelopes stepped side by side: their dependency chains overlap in the CPU


def _rows_kernel(step_fn):
    """Build ``rows(out, start, stop, totals, m, M, seed, envelope_ids, remaining, keys)`` for one
    algorithm's step: rows [start, stop) of ``out`` (envelopes x count), LANES envelopes at a time.

    One envelope's shares form a chain (each step needs the previous remainder); stepping several
    envelopes in lock-step lets their chains overlap in the pipeline. Results equal
    ``sequential_into`` row by row. The step is a compile-time constant, so it is inlined and the
    loop has no dispatch; ``remaining``/``keys`` are scratch arrays of LANES."""

    def rows(out, start, stop, totals, m, M, seed, envelope_ids, remaining, keys):
        count = out.shape[1]
        for b0 in range(start, stop, LANES):
            lanes = min(LANES, stop - b0)
            for j in range(lanes):
                remaining[j] = totals[b0 + j]
                keys[j] = rng.envelope_key(seed, rng.id_of(envelope_ids, b0 + j))
            for i in range(count - 1):
                k = count - i
                for j in range(lanes):
                    s = step_fn(remaining[j], k, m, M, keys[j], i)
                    out[b0 + j, i] = s
                    remaining[j] -= s
            for j in range(lanes):
                out[b0 + j, count - 1] = remaining[j]

    return jit(rows)


rows_double_mean = _rows_kernel(step_double_mean)
rows_naive = _rows_kernel(step_naive)
rows_equal = _rows_kernel(step_equal)


@jit
def rows_beta(out, start, stop, totals, m, M, seed, envelope_ids, remaining, keys):
    """Rows [start, stop) of beta, each in O(count) (``sequential_beta_into``)."""
    for e in range(start, stop):
        sequential_beta_into(out[e], totals[e], m, M, rng.envelope_key(seed, rng.id_of(envelope_ids, e)))
