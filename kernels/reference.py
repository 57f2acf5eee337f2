"""Readable pure-Python twins of the Numba kernels (steps.py, linecut.py), draw for draw.

They use the same counter-based RNG (kernels.rng ``py_*``), so they return exactly the Numba
kernel's shares: beta's log is rng.py_log (IEEE operations, no libm), line_cut's small-count path
is integer-only; only line_cut's Vitter path (libm exp/log) may differ in a last bit.
They are the reference the kernels are tested against, not the speed baseline (see baseline.py).
"""

from __future__ import annotations

import math
from itertools import pairwise

from . import compose_blocks as blocks
from . import rng
from .compose import ALPHA_INV, SMALL_CUTS, SMALL_MAX_POINTS, SMALL_ROUNDS
from .linecut import ATTEMPT_SHIFT, CAP_ATTEMPTS
from .registry import BETA, DOUBLE_MEAN, EQUAL, LINE_CUT, NAIVE


def feasible_range(R: int, k: int, m: int, M: int) -> tuple[int, int]:
    """[lo, hi] for one share so the k-1 others can still each get between m and M (M=-1: no cap)."""
    hi = R - (k - 1) * m
    lo = m
    if M >= 0:
        hi = min(hi, M)
        lo = max(lo, R - (k - 1) * M)
    return lo, hi


def beta_fractions(key: int, step: int, k: int) -> list[float]:
    """Stick-breaking fractions of positions step .. step+k-1: G_j / (G_j + ... + G_last) with
    G_j ~ Gamma(2) from step j's draws, suffix sums from the last position down."""
    fractions = [rng.py_gamma2(key, rng.py_counter(j, 0)) for j in range(step, step + k)]
    suffix = 0.0
    for j in range(k - 1, -1, -1):
        suffix += fractions[j]
        fractions[j] = fractions[j] / suffix
    return fractions


def beta_share(R: int, k: int, m: int, M: int, fraction: float) -> int:
    """``fraction`` of the excess R - k*m, rounded half up, kept inside the feasible range."""
    lo, hi = feasible_range(R, k, m, M)
    want = float(R - k * m) * fraction + 0.5
    if want >= float(hi - m):
        return hi
    return m + max(lo - m, math.floor(want))


def step_share(alg: int, R: int, k: int, m: int, M: int, key: int, step: int) -> int:
    if k == 1:
        return R
    counter = rng.py_counter(step, 0)
    lo, hi = feasible_range(R, k, m, M)
    if alg == DOUBLE_MEAN:
        q, r = divmod(R, k)
        top = 2 * q - 1 if r == 0 else 2 * q + (2 * r - 1) // k  # largest integer < 2R/k
        hi = max(lo, min(hi, top))
        return lo + rng.py_below(key, counter, hi - lo + 1)[0]
    if alg == NAIVE:
        return lo + rng.py_below(key, counter, hi - lo + 1)[0]
    if alg == EQUAL:
        q, r = divmod(R, k)
        if r == 0:
            return q
        return q + 1 if rng.py_below(key, counter, k)[0] < r else q
    if alg == BETA:
        return beta_share(R, k, m, M, beta_fractions(key, step, k)[0])
    raise ValueError(f"no step form for algorithm code {alg}")


def _small_cuts(n: int, N: int, key: int, counter: int) -> list[int] | None:
    """n distinct points of 1..N in increasing order: independent uniform points, sorted, kept
    when all distinct (else redrawn); None when every round repeated a point."""
    for rnd in range(SMALL_ROUNDS):
        cuts = sorted(
            1 + rng.py_below(key, counter + ((rnd * SMALL_CUTS + i) << rng.STEP_BITS), N)[0] for i in range(n)
        )
        if len(set(cuts)) == n:
            return cuts
    return None


def hypergeometric(u: float, N: int, K: int, n: int) -> int:
    """compose_blocks.hypergeometric, operation for operation."""

    def ratio(x: int) -> float:
        return (float(K - x) * float(n - x)) / (float(x + 1) * float(N - K - n + x + 1))

    lo, hi = max(0, n - (N - K)), min(K, n)
    mode = min(hi, max(lo, int((float(n) + 1.0) * (float(K) + 1.0) / (float(N) + 2.0))))
    z, w, x = 1.0, 1.0, mode
    while x < hi:
        w *= ratio(x)
        x += 1
        if w < blocks.HYPER_TAIL:
            break
        z += w
    w, x = 1.0, mode
    while x > lo:
        below = w / ratio(x - 1)
        if below < blocks.HYPER_TAIL:
            break
        w, x = below, x - 1
        z += w
    target, acc = u * z, 0.0
    while x < hi:
        acc += w
        if acc >= target:
            return x
        above = w * ratio(x)
        if above < blocks.HYPER_TAIL and x >= mode:
            return x
        w, x = above, x + 1
    return x


def bernoulli_points(k: int, w: int, p: float, key: int, counter: int) -> list[int] | None:
    """Points of a Bernoulli(p) process on 1..w (geometric gaps by inversion); None past k points."""
    inv = 1.0 / rng.py_log(1.0 - p)
    points: list[int] = []
    x = 0
    while True:
        x += int(rng.py_log(rng.py_uniform(key, counter)) * inv) + 1
        counter += 1
        if x > w:
            return points
        if len(points) == k:
            return None
        points.append(x)


def missing_points(taken: list[int], w: int, d: int, key: int, counter: int) -> list[int]:
    """d points of 1..w uniform among those not taken: rounds of uniform points, repeats dropped."""
    held, extra = set(taken), list[int]()
    while len(extra) < d:
        cand = []
        for _ in range(d - len(extra)):
            v, counter = rng.py_below(key, counter, w)
            cand.append(v + 1)
        cand.sort()
        before = set(extra)
        extra += [
            v for j, v in enumerate(cand) if not (j > 0 and v == cand[j - 1]) and v not in held and v not in before
        ]
        extra.sort()
    return extra


def _gaps(points: list[int], offset: int) -> list[int]:
    return [b - a + offset for a, b in pairwise([0, *points])]


def sparse_block(k: int, w: int, offset: int, key: int, counter: int) -> tuple[list[int], int]:
    """(gaps of a uniform k-subset of 1..w, the first from 0, each plus offset; its last point)."""
    kf = float(k)
    p = max(kf - blocks.SPARE_SD * math.sqrt(kf), 0.25 * kf) / float(w)
    for attempt in range(blocks.SPARSE_ATTEMPTS):
        base = counter + (attempt << blocks.ROUND_SHIFT)
        held = bernoulli_points(k, w, p, key, base)
        if held is not None:
            points = sorted(held + missing_points(held, w, k - len(held), key, base + int(blocks.EXTRA_AT)))
            return _gaps(points, offset), points[-1]
    return head_block(k, w, offset, key, counter + (blocks.SPARSE_ATTEMPTS << blocks.ROUND_SHIFT))


def head_block(k: int, w: int, offset: int, key: int, counter: int) -> tuple[list[int], int]:
    parts = _compose_head(w + 1, k + 1, offset, key, counter)
    return parts[:-1], w + 1 - (parts[-1] - offset)


def _compose_blocks(P: int, n: int, offset: int, key: int, counter: int) -> list[int]:
    """compose_blocks: block cut counts from the hypergeometric law given the blocks before,
    each block's cuts drawn on their own, the shares across block edges joined."""
    N = P - 1
    left_points, left_cuts, before, last_cut, shares = N, n, 0, 0, []
    for b in range(blocks.LARGE_BLOCKS):
        w = N // blocks.LARGE_BLOCKS + (1 if b < N % blocks.LARGE_BLOCKS else 0)
        k = (
            left_cuts
            if b == blocks.LARGE_BLOCKS - 1
            else hypergeometric(rng.py_uniform(key, counter + b), left_points, w, left_cuts)
        )
        if k > 0:
            at = counter + ((b + 1) << blocks.BLOCK_SHIFT)
            fits = k >= blocks.SPARSE_MIN_CUTS and float(k) <= blocks.SPARSE_MAX_DENSITY * float(w)
            parts, last = (sparse_block if fits else head_block)(k, w, offset, key, at)
            parts[0] += before - last_cut
            last_cut = before + last
            shares += parts
        before += w
        left_points -= w
        left_cuts -= k
    return [*shares, P - last_cut + offset]


def _compose(P: int, count: int, offset: int, key: int, counter: int) -> list[int]:
    """Uniform composition of P into ``count`` positive parts (linecut._compose)."""
    if count - 1 >= blocks.LARGE_MIN_CUTS:
        return _compose_blocks(P, count - 1, offset, key, counter)
    return _compose_head(P, count, offset, key, counter)


def _compose_head(P: int, count: int, offset: int, key: int, counter: int) -> list[int]:
    """Uniform composition of P into ``count`` positive parts: sorted distinct points for a few
    cuts on a wide line, else Vitter's method D, then A."""
    n, N = count - 1, P - 1
    if 1 <= n <= SMALL_CUTS and N <= SMALL_MAX_POINTS and n * (n - 1) <= N:
        small = _small_cuts(n, N, key, counter)
        if small is not None:
            return [b - a + offset for a, b in pairwise([0, *small, P])]
        counter += (SMALL_ROUNDS * SMALL_CUTS) << rng.STEP_BITS
    cuts: list[int] = []
    pos = -1

    def u() -> float:
        nonlocal counter
        counter += 1
        return rng.py_uniform(key, counter - 1)

    if n > 0:
        ninv = 1.0 / n
        vprime = math.exp(math.log(u()) * ninv)
        qu1 = N - n + 1
        threshold = ALPHA_INV * n  # method D while 13 n < N (Vitter 1987)
        while n > 1 and threshold < N:
            nmin1inv = 1.0 / (n - 1.0)
            while True:
                while True:
                    X = N * (1.0 - vprime)
                    S = int(X)
                    if S < qu1:
                        break
                    vprime = math.exp(math.log(u()) * ninv)
                U = u()
                y1 = math.exp(math.log(U * N / qu1) * nmin1inv)
                vprime = y1 * (1.0 - X / N) * (qu1 / (qu1 - S))
                if vprime <= 1.0:
                    break
                y2, top = 1.0, N - 1.0
                if n - 1 > S:
                    bottom, limit = float(N - n), N - S
                else:
                    bottom, limit = N - S - 1.0, qu1
                for _ in range(N - 1, limit - 1, -1):
                    y2 = (y2 * top) / bottom
                    top -= 1.0
                    bottom -= 1.0
                if N / (N - X) >= y1 * math.exp(math.log(y2) * nmin1inv):
                    vprime = math.exp(math.log(u()) * nmin1inv)
                    break
                vprime = math.exp(math.log(u()) * ninv)
            pos += S + 1
            cuts.append(pos + 1)
            N, n, ninv, qu1 = N - S - 1, n - 1, nmin1inv, qu1 - S
            threshold -= ALPHA_INV
        if n > 1:  # method A over the dense tail
            top, Nreal = float(N - n), float(N)
            while n >= 2:
                V, S = u(), 0
                quot = top / Nreal
                while quot > V:
                    S += 1
                    top -= 1.0
                    Nreal -= 1.0
                    quot = (quot * top) / Nreal
                pos += S + 1
                cuts.append(pos + 1)
                Nreal -= 1.0
                n -= 1
            S = int(Nreal * u())
        else:
            S = int(float(N) * vprime)
        pos += S + 1
        cuts.append(pos + 1)
    edges = [0, *cuts, P]
    return [b - a + offset for a, b in pairwise(edges)]


def line_cut(total: int, count: int, m: int, M: int, key: int) -> list[int]:
    P = total - count * (m - 1)
    for attempt in range(CAP_ATTEMPTS):
        shares = _compose(P, count, m - 1, key, attempt << ATTEMPT_SHIFT)
        if M < 0 or max(shares) <= M:
            return shares
    overflow = sum(max(0, s - M) for s in shares)
    shares = [min(s, M) for s in shares]
    i = rng.py_below(key, CAP_ATTEMPTS << ATTEMPT_SHIFT, count)[0]
    while overflow > 0:
        give = min(M - shares[i], overflow)
        shares[i] += give
        overflow -= give
        i = (i + 1) % count
    return shares


def split(alg: int, total: int, count: int, m: int, M: int, seed: int, envelope_id: int) -> list[int]:
    """One envelope, as a list of int cents."""
    key = rng.py_envelope_key(seed, envelope_id)
    if alg == LINE_CUT:
        return line_cut(total, count, m, M, key)
    if alg == BETA:  # one Dirichlet for the envelope: O(count), the same fractions as each step's
        fractions = beta_fractions(key, 0, count)
        shares, remaining = [], total
        for i in range(count - 1):
            shares.append(beta_share(remaining, count - i, m, M, fractions[i]))
            remaining -= shares[-1]
        return [*shares, remaining]
    shares, remaining = [], total
    for i in range(count):
        s = step_share(alg, remaining, count - i, m, M, key, i)
        shares.append(s)
        remaining -= s
    return shares
