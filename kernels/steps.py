"""Numba kernels: the scalar "next share" step, written once and reused by the serial, parallel
batch and online (grab-time) forms. Readable twins live in kernels/reference.py.

Arguments: remaining ``R`` cents for ``k`` people left, floor ``m``, cap ``M`` (``-1`` = none),
envelope ``key`` from kernels.rng and the 0-based grab position ``step``.
"""
from __future__ import annotations

import math

import numpy as np

from kernels import rng
from kernels._jit import jit
from kernels.registry import BETA, BETA_CONCENTRATION, DOUBLE_MEAN, EQUAL, NAIVE


@jit
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


@jit
def step_share(alg, R, k, m, M, key, step):
    """The share of grab number ``step`` when R cents remain for k people (k >= 1)."""
    if k == 1:
        return R
    counter = rng.counter_of(step, 0)
    lo, hi = feasible_range(R, k, m, M)
    if alg == DOUBLE_MEAN:
        q = R // k
        r = R - q * k
        top = 2 * q - 1 if r == 0 else 2 * q + (2 * r - 1) // k  # largest integer < 2R/k
        if top < hi:
            hi = top
        if hi < lo:
            hi = lo
        u, counter = rng.below(key, counter, hi - lo + 1)
        return lo + u
    if alg == NAIVE:
        u, counter = rng.below(key, counter, hi - lo + 1)
        return lo + u
    if alg == EQUAL:
        q = R // k
        r = R - q * k
        if r == 0:
            return q
        u, counter = rng.below(key, counter, k)
        return q + 1 if u < r else q
    if alg == BETA:
        excess = R - k * m
        g1, counter = rng.gamma(key, counter, BETA_CONCENTRATION)
        g2, counter = rng.gamma(key, counter, BETA_CONCENTRATION * (k - 1))
        want = np.float64(excess) * (g1 / (g1 + g2)) + 0.5
        lo_x = lo - m
        hi_x = hi - m
        if want >= np.float64(hi_x):
            return hi
        x = np.int64(math.floor(want))
        if x < lo_x:
            x = lo_x
        return m + x
    return -1  # unknown code: callers validate names first


@jit
def sequential_into(out, alg, total, m, M, key):
    """Fill ``out`` with a whole split made of successive steps (all algorithms but line_cut)."""
    count = out.shape[0]
    remaining = total
    for i in range(count):
        s = step_share(alg, remaining, count - i, m, M, key, i)
        out[i] = s
        remaining -= s
