"""Uniform compositions by sequential sampling: n distinct cuts among N inner points, in increasing order.

A uniform composition of P into n + 1 positive parts is n distinct cuts among the P - 1 inner
points, every n-subset equally likely. Few cuts on a wide line (at most ``SMALL_CUTS``,
``n(n-1) <= N``, so a repeat is unlikely) are drawn as independent uniform points, sorted, and kept
only if all distinct (else the whole set is redrawn: each n-subset is then exactly equally likely;
after ``SMALL_ROUNDS`` failed rounds, Vitter's method). Otherwise the cuts are drawn in increasing
order by Vitter's sequential sampling (method D, with method A for the dense tail): O(n) time and
no memory but the output. ``compose_blocks.py`` splits very large envelopes into blocks that use
these samplers or a faster sparse one.
"""

from __future__ import annotations

import math

import numpy as np

from . import rng
from ._jit import jit, jit_inline

ALPHA_INV = 13.0  # Vitter's switch-over: method D while n * 13 < records left
SMALL_CUTS = 32  # the sorted-distinct-points path: at most this many cuts ...
SMALL_ROUNDS = 16  # ... redrawn at most this many times, then Vitter's method
SMALL_MAX_POINTS = 0xFFFFFFFF  # ... on at most 2**32 - 1 inner points (one 32-bit draw per cut)


@jit_inline
def small_fits(n, N):
    """The sorted-distinct path applies: 1..SMALL_CUTS cuts, expected repeats n(n-1)/2N <= 1/2."""
    return n >= 1 and n <= SMALL_CUTS and N <= SMALL_MAX_POINTS and n * (n - 1) <= N


@jit_inline
def small_counter(counter, rnd, i):
    """Counter of cut ``i`` in round ``rnd``: its own step, so a rejected draw never shifts another."""
    return counter + (np.int64(rnd * SMALL_CUTS + i) << rng.STEP_BITS)


@jit
def _small_cuts(cuts, N, key, counter):
    """Fill ``cuts`` with distinct inner points of 1..N in increasing order; False if every round
    repeated a point."""
    n = cuts.shape[0]
    for rnd in range(SMALL_ROUNDS):
        for i in range(n):
            v, _ = rng.below(key, small_counter(counter, rnd, i), N)
            cuts[i] = v + 1
        cuts.sort()
        distinct = True
        for i in range(n - 1):
            if cuts[i] == cuts[i + 1]:
                distinct = False
        if distinct:
            return True
    return False


#: Vitter's counters after a small path that failed every round
VITTER_AFTER_SMALL = np.int64(SMALL_ROUNDS * SMALL_CUTS) << rng.STEP_BITS


@jit
def _emit(out, idx, cut, prev, offset):
    out[idx] = cut - prev + offset
    return idx + 1, cut


@jit
def compose_head(out, n, P, offset, key, counter):
    """Uniform composition of P into n + 1 positive parts, each plus ``offset``: the first n
    written to out[:n], the last one returned (so a block of a larger line can leave it open)."""
    N = P - 1  # inner points to choose the n cuts from
    if small_fits(n, N):
        cuts = np.empty(n, dtype=np.int64)
        if _small_cuts(cuts, N, key, counter):
            prev = np.int64(0)
            for i in range(n):
                out[i] = cuts[i] - prev + offset
                prev = cuts[i]
            return P - prev + offset
        counter += VITTER_AFTER_SMALL
    idx = 0
    prev = np.int64(0)
    pos = np.int64(-1)  # index of the last selected inner point (point = index + 1)
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
    return P - prev + offset
