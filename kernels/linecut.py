"""line_cut as a Numba kernel: an exactly uniform random composition of the total.

Shares of at least ``m`` summing to T are, after subtracting ``m - 1`` from each, compositions of
P = T - N(m-1) into N positive parts: N-1 distinct cuts among the P-1 inner points, all subsets
equally likely. The cuts are drawn in increasing order by Vitter's sequential sampling (method D,
with method A for the dense tail), so a composition of 10**8 shares takes O(N) time and only the
output array. A cap ``M`` is met by redrawing up to ``CAP_ATTEMPTS`` times, then by moving the
overflow to neighbours with room, starting at a random position (exact, near-uniform).
"""
from __future__ import annotations

import math

import numpy as np

from . import rng
from ._jit import jit

CAP_ATTEMPTS = 4
ATTEMPT_SHIFT = 48  # counters of attempt a start at a << 48
ALPHA_INV = 13.0    # Vitter's switch-over: method D while n * 13 < records left


@jit
def _emit(out, idx, cut, prev, offset):
    out[idx] = cut - prev + offset
    return idx + 1, cut


@jit
def _compose(out, P, offset, key, counter):
    """Uniform composition of P into out.shape[0] positive parts, each plus ``offset``."""
    n = out.shape[0] - 1   # cuts to place
    N = P - 1              # inner points to choose them from
    idx = 0
    prev = np.int64(0)
    pos = np.int64(-1)     # index of the last selected inner point (point = index + 1)
    if n > 0:
        nreal = np.float64(n)
        Nreal = np.float64(N)
        ninv = 1.0 / nreal
        vprime = math.exp(math.log(rng.uniform(key, counter)) * ninv)
        counter += 1
        qu1 = N - n + 1
        qu1real = np.float64(qu1)
        threshold = ALPHA_INV * nreal  # method D while 13 n < N (Vitter 1987)
        while n > 1 and threshold < np.float64(N):
            nmin1inv = 1.0 / (nreal - 1.0)
            while True:
                while True:
                    X = Nreal * (1.0 - vprime)
                    S = np.int64(X)
                    if S < qu1:
                        break
                    vprime = math.exp(math.log(rng.uniform(key, counter)) * ninv)
                    counter += 1
                U = rng.uniform(key, counter)
                counter += 1
                negSreal = -np.float64(S)
                y1 = math.exp(math.log(U * Nreal / qu1real) * nmin1inv)
                vprime = y1 * (1.0 - X / Nreal) * (qu1real / (negSreal + qu1real))
                if vprime <= 1.0:
                    break
                y2 = 1.0
                top = Nreal - 1.0
                if n - 1 > S:
                    bottom = Nreal - nreal
                    limit = N - S
                else:
                    bottom = Nreal + negSreal - 1.0
                    limit = qu1
                t = N - 1
                while t >= limit:
                    y2 = (y2 * top) / bottom
                    top -= 1.0
                    bottom -= 1.0
                    t -= 1
                if Nreal / (Nreal - X) >= y1 * math.exp(math.log(y2) * nmin1inv):
                    vprime = math.exp(math.log(rng.uniform(key, counter)) * nmin1inv)
                    counter += 1
                    break
                vprime = math.exp(math.log(rng.uniform(key, counter)) * ninv)
                counter += 1
            pos += S + 1
            idx, prev = _emit(out, idx, pos + 1, prev, offset)
            N = N - S - 1
            Nreal = np.float64(N)
            n -= 1
            nreal = np.float64(n)
            ninv = nmin1inv
            qu1 = qu1 - S
            qu1real = np.float64(qu1)
            threshold -= ALPHA_INV
        if n > 1:  # method A over the dense tail
            top = np.float64(N - n)
            Nreal = np.float64(N)
            while n >= 2:
                V = rng.uniform(key, counter)
                counter += 1
                S = np.int64(0)
                quot = top / Nreal
                while quot > V:
                    S += 1
                    top -= 1.0
                    Nreal -= 1.0
                    quot = (quot * top) / Nreal
                pos += S + 1
                idx, prev = _emit(out, idx, pos + 1, prev, offset)
                Nreal -= 1.0
                n -= 1
            S = np.int64(Nreal * rng.uniform(key, counter))
            counter += 1
        else:
            S = np.int64(np.float64(N) * vprime)
        pos += S + 1
        idx, prev = _emit(out, idx, pos + 1, prev, offset)
    out[idx] = P - prev + offset


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
