"""line_cut as a Numba kernel: an exactly uniform random composition of the total.

Shares of at least ``m`` summing to T are, after subtracting ``m - 1`` from each, compositions of
P = T - N(m-1) into N positive parts: N-1 distinct cuts among the P-1 inner points, all subsets
equally likely. Few cuts on a wide line (at most ``SMALL_CUTS``, ``n(n-1) <= P-1``, so a repeat is
unlikely) are drawn as independent uniform points, sorted, and kept only if all distinct (else the
whole set is redrawn: each n-subset is then exactly equally likely; after ``SMALL_ROUNDS`` failed
rounds, Vitter's method below). Otherwise the cuts are drawn in increasing order by Vitter's
sequential sampling (method D, with method A for the dense tail), so a composition of 10**8 shares
takes O(N) time and only the output array. A cap ``M`` is met by redrawing up to ``CAP_ATTEMPTS`` times, then by moving the
overflow to neighbours with room, starting at a random position (exact, near-uniform).
"""
from __future__ import annotations

import math

import numpy as np

from . import rng
from ._jit import jit, jit_inline
from .vector import VEC, draw_below

CAP_ATTEMPTS = 4
ATTEMPT_SHIFT = 48  # counters of attempt a start at a << 48
ALPHA_INV = 13.0    # Vitter's switch-over: method D while n * 13 < records left
SMALL_CUTS = 32     # the sorted-distinct-points path: at most this many cuts ...
SMALL_ROUNDS = 16   # ... redrawn at most this many times, then Vitter's method
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
def _compose(out, P, offset, key, counter):
    """Uniform composition of P into out.shape[0] positive parts, each plus ``offset``."""
    n = out.shape[0] - 1   # cuts to place
    N = P - 1              # inner points to choose them from
    if small_fits(n, N):
        cuts = np.empty(n, dtype=np.int64)
        if _small_cuts(cuts, N, key, counter):
            prev = np.int64(0)
            for i in range(n):
                out[i] = cuts[i] - prev + offset
                prev = cuts[i]
            out[n] = P - prev + offset
            return
        counter += VITTER_AFTER_SMALL
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
