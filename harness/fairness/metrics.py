"""Numba passes over a share matrix (envelopes x positions, integer cents in grab order).

Two passes, each a ``prange`` over fixed-size chunks of envelopes. Every chunk writes only its
own slice of the per-chunk accumulators, and the chunk size does not depend on the thread count,
so the figures are the same on 1 or 64 threads.

Pass 1 (:func:`row_pass`): per envelope min, max, sum, Gini and the best-luck position (ties to
the earliest grabber, as WeChat does, and a second one with ties broken at random for the
uniformity test); per position the sum of shares.
Pass 2 (:func:`bin_pass`): with the position means and the pooled share-bin edges known, per
position the 2nd and 4th central moments, the (position x share-bin) table, the per-envelope
bin-count cross products and the Brown-Forsythe spread feature sums the tests need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from hongbao.kernels import rng
from hongbao.kernels._jit import jit, jit_parallel

CHUNK_ROWS = 8192

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@jit
def _gini_sorted(buf, total):
    """Gini of one envelope from its shares sorted ascending: sum (2i - n - 1) x_(i) / (n sum x)."""
    n = buf.shape[0]
    if total <= 0 or n < 2:
        return 0.0
    acc = 0.0
    for i in range(n):
        acc += np.float64(2 * i - n + 1) * np.float64(buf[i])
    return acc / (np.float64(n) * np.float64(total))


@jit
def _insertion_sort(buf):
    for i in range(1, buf.shape[0]):
        x = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > x:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = x


@jit_parallel
def row_pass(shares, tie_seed, best_first, best_random, row_min, row_max, row_sum, gini, pos_sum):
    """Fill the per-envelope outputs and ``pos_sum[chunk, position]`` (float64 sums of shares)."""
    n_env, n_pos = shares.shape
    n_chunks = pos_sum.shape[0]
    key = rng.mix64(np.uint64(tie_seed))
    for c in numba.prange(n_chunks):
        buf = np.empty(n_pos, dtype=np.int64)
        start = c * CHUNK_ROWS
        stop = min(n_env, start + CHUNK_ROWS)
        for e in range(start, stop):
            hi = shares[e, 0]
            lo = shares[e, 0]
            best = 0
            ties = 1
            total = np.int64(0)
            for p in range(n_pos):
                x = shares[e, p]
                total += x
                pos_sum[c, p] += np.float64(x)
                buf[p] = x
                if x > hi:
                    hi = x
                    best = p
                    ties = 1
                elif x == hi and p > 0:
                    ties += 1
                if x < lo:
                    lo = x
            best_first[e] = best
            # random tie-break: the j-th of the tied maxima, j from a hash of (tie_seed, envelope)
            j = np.int64(rng.mix64(key + np.uint64(e) * _GOLDEN) % np.uint64(ties))
            pick = best
            for p in range(best, n_pos):
                if shares[e, p] == hi:
                    if j == 0:
                        pick = p
                        break
                    j -= 1
            best_random[e] = pick
            row_min[e] = lo
            row_max[e] = hi
            row_sum[e] = total
            if n_pos <= 32:
                _insertion_sort(buf)
            else:
                buf.sort()
            gini[e] = _gini_sorted(buf, total)


@jit_parallel
def bin_pass(shares, means, edges, median, m2, m4, table, cross, spread_sum, spread_within):
    """Second pass; every output has a leading chunk axis (see module docstring)."""
    n_env, n_pos = shares.shape
    n_chunks = m2.shape[0]
    n_bins = table.shape[2]
    for c in numba.prange(n_chunks):
        counts = np.zeros(n_bins, dtype=np.int64)
        g = np.empty(n_pos, dtype=np.float64)
        start = c * CHUNK_ROWS
        stop = min(n_env, start + CHUNK_ROWS)
        for e in range(start, stop):
            counts[:] = 0
            gbar = 0.0
            for p in range(n_pos):
                x = shares[e, p]
                d = np.float64(x) - means[p]
                d2 = d * d
                m2[c, p] += d2
                m4[c, p] += d2 * d2
                b = np.searchsorted(edges, x)  # number of edges < x
                table[c, p, b] += 1
                counts[b] += 1
                gp = abs(np.float64(x) - median)
                g[p] = gp
                gbar += gp
                spread_sum[c, p] += gp
            gbar /= n_pos
            w = 0.0
            for p in range(n_pos):
                w += (g[p] - gbar) * (g[p] - gbar)
            spread_within[c] += w
            for a in range(n_bins):
                if counts[a] != 0:
                    for b in range(n_bins):
                        cross[c, a, b] += counts[a] * counts[b]


@dataclass
class Passes:
    """Raw sums from the two passes, reduced over chunks (numpy arrays)."""

    best_first: np.ndarray  # (E,) int64 best-luck position, ties to the earliest
    best_random: np.ndarray  # (E,) int64 best-luck position, ties at random
    row_min: np.ndarray  # (E,) int64
    row_max: np.ndarray  # (E,) int64
    row_sum: np.ndarray  # (E,) int64
    gini: np.ndarray  # (E,) float64
    mean: np.ndarray  # (N,) position means
    m2: np.ndarray  # (N,) sum of squared deviations from the position mean
    m4: np.ndarray  # (N,) sum of 4th powers of the same
    edges: np.ndarray  # (B-1,) share-bin edges: bin = number of edges < share
    table: np.ndarray  # (N, B) int64 counts of (position, share bin)
    cross: np.ndarray  # (B, B) int64 sum over envelopes of c_e c_e^T (c_e: bin counts)
    spread_sum: np.ndarray  # (N,) sum of |share - pooled median| by position
    spread_within: float  # sum over envelopes of sum_p (g_ep - mean_p' g_ep')^2
    median: float


def share_bin_edges(shares: np.ndarray, bins: int, sample_rows: int = 20000) -> tuple[np.ndarray, float]:
    """Pooled quantile edges (at most ``bins - 1``, distinct, below the top value) and the median.

    Computed on an evenly strided subsample of envelopes: cheap and the same for any thread count.
    """
    step = max(1, shares.shape[0] // sample_rows)
    sample = shares[::step].ravel()
    median = float(np.median(sample))
    qs = np.quantile(sample, np.arange(1, bins) / bins, method="lower")
    edges = np.unique(qs)
    edges = edges[edges < sample.max()]
    return edges.astype(np.int64), median


def run_passes(shares: np.ndarray, *, bins: int = 10, tie_seed: int = 0) -> Passes:
    """Both passes over a C-contiguous int64 matrix; see :class:`Passes`."""
    shares = np.ascontiguousarray(shares, dtype=np.int64)
    n_env, n_pos = shares.shape
    n_chunks = max(1, -(-n_env // CHUNK_ROWS))
    best_first = np.empty(n_env, np.int64)
    best_random = np.empty(n_env, np.int64)
    row_min = np.empty(n_env, np.int64)
    row_max = np.empty(n_env, np.int64)
    row_sum = np.empty(n_env, np.int64)
    gini = np.empty(n_env, np.float64)
    pos_sum = np.zeros((n_chunks, n_pos), np.float64)
    row_pass(shares, np.uint64(tie_seed), best_first, best_random, row_min, row_max, row_sum, gini, pos_sum)
    mean = pos_sum.sum(axis=0) / n_env
    edges, median = share_bin_edges(shares, bins)
    n_bins = edges.shape[0] + 1
    m2 = np.zeros((n_chunks, n_pos))
    m4 = np.zeros((n_chunks, n_pos))
    table = np.zeros((n_chunks, n_pos, n_bins), np.int64)
    cross = np.zeros((n_chunks, n_bins, n_bins), np.int64)
    spread_sum = np.zeros((n_chunks, n_pos))
    spread_within = np.zeros(n_chunks)
    bin_pass(shares, mean, edges, np.float64(median), m2, m4, table, cross, spread_sum, spread_within)
    return Passes(
        best_first,
        best_random,
        row_min,
        row_max,
        row_sum,
        gini,
        mean,
        m2.sum(0),
        m4.sum(0),
        edges,
        table.sum(0),
        cross.sum(0),
        spread_sum.sum(0),
        float(spread_within.sum()),
        median,
    )
