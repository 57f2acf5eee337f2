"""line_cut's block path (kernels/compose_blocks.py): each piece's law, the twins share for share,
and the law of whole campaign-size compositions."""

from __future__ import annotations

import collections
import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

from hongbao import kernels
from hongbao.kernels import compose_blocks as blocks
from hongbao.kernels import reference, rng


def _key(i: int) -> np.uint64:
    return np.uint64(rng.py_envelope_key(11, i))


@pytest.mark.parametrize(
    "N, K, n, draws", [(40, 12, 9, 20_000), (1000, 300, 250, 20_000), (10**9, 15_625_000, 1_000_000, 4_000)]
)
def test_hypergeometric_follows_its_law(N, K, n, draws):
    """Chi-square against scipy's law over about 20 bins of equal probability, from uniforms at
    successive counters."""
    got = np.array([blocks.hypergeometric(rng.py_uniform(7, c), N, K, n) for c in range(draws)])
    law = stats.hypergeom(N, K, n)
    uppers = np.unique(law.ppf(np.linspace(0, 1, 21)[1:-1]))  # bin i: values <= uppers[i]
    cdf = np.concatenate([law.cdf(uppers), [1.0]])
    expected = np.diff(np.concatenate([[0.0], cdf])) * draws
    observed = np.bincount(np.searchsorted(uppers, got), minlength=len(cdf))
    assert stats.chisquare(observed, expected * draws / expected.sum()).pvalue > 1e-4


def test_hypergeometric_twins_agree_and_stay_in_range():
    cases = [(10, 10, 3), (10, 0, 3), (50, 25, 50), (7, 3, 0), (10**10, 10**8, 10**6), (1000, 999, 998)]
    for N, K, n in cases:
        for c in range(200):
            u = rng.py_uniform(3, c)
            got = blocks.hypergeometric(u, N, K, n)
            assert got == reference.hypergeometric(u, N, K, n)
            assert max(0, n - (N - K)) <= got <= min(K, n)


@pytest.mark.parametrize("k, w", [(3, 8), (2, 5), (4, 8), (1, 6)])
def test_sparse_block_draws_every_subset_equally_often(k, w):
    """The Bernoulli process plus uniform missing points, at sizes where every k-subset can be
    counted: chi-square over all of them. At these sizes the process often overshoots k (its p
    is k / 4 / w) and is redrawn, and the missing points are most of the subset."""
    subsets = list(itertools.combinations(range(1, w + 1), k))
    n = 300 * len(subsets)
    seen: collections.Counter = collections.Counter()
    out = np.empty(k, dtype=np.int64)
    for i in range(n):
        last = blocks.sparse_block(out, k, w, 0, _key(i), np.int64(0))
        points = tuple(np.cumsum(out).tolist())
        assert points[-1] == last
        seen[points] += 1
    assert set(seen) <= set(subsets)
    p = stats.chisquare([seen[s] for s in subsets]).pvalue
    assert p > 1e-4, f"{k} of {w}: not uniform over {len(subsets)} subsets (p={p:.2g})"


def test_sparse_block_twins_agree_on_overshoots_and_fills():
    out = np.empty(300, dtype=np.int64)
    for i in range(300):
        for k, w in ((3, 8), (300, 700), (256, 10**9)):
            last = blocks.sparse_block(out[:k], k, w, 2, _key(i), np.int64(5))
            gaps, py_last = reference.sparse_block(k, w, 2, int(_key(i)), 5)
            assert out[:k].tolist() == gaps and last == py_last


@pytest.mark.parametrize(
    "total, count, m, M",
    [
        (10**6, 65_537, 1, None),  # sparse blocks of ~1,000 cuts
        (5 * 10**6, 131_074, 1, None),
        (65_537 + 5, 65_537, 1, None),  # dense: every block by Vitter's method A
        (3 * 70_001, 70_001, 0, None),  # min 0: 2 points per share
        (10**7, 70_000, 1, 10**7),  # a cap that never binds: the serial block path
        (10**6, 65_537, 1, 60),  # a cap that binds: redraws, then the overflow moved
    ],
)
def test_campaign_envelopes_equal_the_python_twin(total, count, m, M):
    got = kernels.split(total, count, algorithm="line_cut", min_cents=m, max_cents=M, seed=5, envelope_id=3)
    twin = kernels.split(
        total, count, algorithm="line_cut", min_cents=m, max_cents=M, seed=5, envelope_id=3, impl="python"
    )
    assert int(got.sum()) == total and got.min() >= m and (M is None or got.max() <= M)
    assert np.array_equal(got, twin)


def test_parallel_blocks_equal_the_serial_blocks_whatever_the_batch():
    """split (blocks on all threads), split_batch parallel and serial, and a cap that never binds
    (the serial block path) give the same shares."""
    total, count = 3 * 10**6, 100_003
    one = kernels.split(total, count, algorithm="line_cut", seed=9, envelope_id=1)
    rows = kernels.split_batch([total + 1, total], count, algorithm="line_cut", seed=9, parallel=True)
    serial = kernels.split_batch([total + 1, total], count, algorithm="line_cut", seed=9, parallel=False)
    capped = kernels.split(total, count, algorithm="line_cut", max_cents=total, seed=9, envelope_id=1)
    assert np.array_equal(rows, serial)
    assert np.array_equal(rows[1], one) and np.array_equal(capped, one)


def _share_pmf(x: np.ndarray, P: int, n: int) -> np.ndarray:
    """P(a part = x) for a uniform composition of P into n + 1 positive parts: C(P-1-x, n-1) / C(P-1, n)."""
    return np.exp(
        special.gammaln(P - x)
        - special.gammaln(n)
        - special.gammaln(P - x - n + 1)
        - (special.gammaln(P) - special.gammaln(n + 1) - special.gammaln(P - n))
    )


@pytest.mark.slow
def test_campaign_shares_follow_the_uniform_composition_law():
    """Shares at fixed positions (first, last, middle, and beside the first block edges) of
    envelopes composed in blocks: each has the exact marginal law of a uniform composition."""
    count, mean = 65_537 + 63, 12
    total, n = count * mean, count - 1
    envelopes = 2_000
    shares = kernels.split_batch(np.full(envelopes, total), count, algorithm="line_cut", seed=17)
    for pos in (0, count // 64, count // 64 + 1, count // 2, count - 1):
        x = shares[:, pos]
        top = 60
        observed = np.bincount(np.minimum(x, top), minlength=top + 1)[1:]
        pmf = _share_pmf(np.arange(1, top), total, n)
        expected = np.append(pmf, 1.0 - pmf.sum()) * envelopes
        assert math.isclose(expected.sum(), envelopes)
        p = stats.chisquare(observed, expected).pvalue
        assert p > 1e-4, f"share {pos}: not the composition law (p={p:.2g})"
