"""The Numba metric passes agree with plain numpy on the same matrices (kernel == naive)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from hongbao.harness.fairness import metrics, score_matrix


def _matrix(n_env: int, n_pos: int, seed: int, high: int = 50) -> np.ndarray:
    # small integers make ties (and equal maxima) frequent
    return np.random.default_rng(seed).integers(0, high, size=(n_env, n_pos), dtype=np.int64)


def _gini(row: np.ndarray) -> float:
    row = row.astype(float)
    if row.sum() == 0:
        return 0.0
    return np.abs(row[:, None] - row[None, :]).sum() / (2 * len(row) ** 2 * row.mean())


@pytest.mark.parametrize("n_env,n_pos", [(5, 1), (100, 7), (metrics.CHUNK_ROWS * 2 + 17, 5), (30, 40)])
def test_passes_match_numpy(n_env, n_pos):
    x = _matrix(n_env, n_pos, seed=n_env + n_pos)
    p = metrics.run_passes(x, bins=6, tie_seed=3)
    assert np.array_equal(p.row_min, x.min(1)) and np.array_equal(p.row_max, x.max(1))
    assert np.array_equal(p.row_sum, x.sum(1))
    assert np.array_equal(p.best_first, x.argmax(1))  # argmax returns the earliest maximum
    assert np.all(x[np.arange(n_env), p.best_random] == x.max(1))
    assert np.allclose(p.gini, [_gini(r) for r in x])
    mean = x.mean(0)
    assert np.allclose(p.mean, mean)
    assert np.allclose(p.m2, ((x - mean) ** 2).sum(0))
    assert np.allclose(p.m4, ((x - mean) ** 4).sum(0))
    b = np.searchsorted(p.edges, x, side="left")
    table = np.stack([np.bincount(b[:, j], minlength=p.table.shape[1]) for j in range(n_pos)])
    assert np.array_equal(p.table, table)
    c = np.stack([np.bincount(r, minlength=p.table.shape[1]) for r in b])
    assert np.array_equal(p.cross, c.T @ c)
    g = np.abs(x - p.median)
    assert np.allclose(p.spread_sum, g.sum(0))
    assert np.isclose(p.spread_within, ((g - g.mean(1, keepdims=True)) ** 2).sum())


def test_same_figures_whatever_the_thread_count():
    import numba

    x = _matrix(metrics.CHUNK_ROWS * 3, 6, seed=1, high=10**6)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = score_matrix(x)
        numba.set_num_threads(before)
        many = score_matrix(x)
    finally:
        numba.set_num_threads(before)
    assert one == many


def test_random_tie_break_is_uniform_over_tied_maxima():
    x = np.full((6000, 4), 7, dtype=np.int64)  # every position tied
    p = metrics.run_passes(x, tie_seed=11)
    assert np.all(p.best_first == 0)  # WeChat rule: the earliest grabber
    assert sps.chisquare(np.bincount(p.best_random, minlength=4)).pvalue > 1e-4
    assert not np.array_equal(p.best_random, metrics.run_passes(x, tie_seed=12).best_random)


def test_score_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="shares_2d"):
        score_matrix(np.arange(10))
    with pytest.raises(ValueError, match="integer cents"):
        score_matrix(np.ones((5, 3)))
    with pytest.raises(ValueError, match="alpha"):
        score_matrix(np.ones((5, 3), dtype=np.int64), alpha=1.5)


def test_exact_flag_names_the_first_bad_envelope():
    x = np.full((50, 4), 25, dtype=np.int64)
    assert score_matrix(x, total_cents=100, min_cents=1)["exact"]
    x[17, 2] = 24
    out = score_matrix(x, total_cents=100, min_cents=1)
    assert not out["exact"]
    assert out["exactness"]["first_wrong_sum"] == {"envelope": 17, "sum_cents": 99, "expected_cents": 100}
    x[17, 2] = 25
    x[30, 0], x[30, 1] = 0, 50
    out = score_matrix(x, total_cents=100, min_cents=1)
    assert out["exactness"]["first_below_min"]["envelope"] == 30 and not out["exact"]


def test_constant_matrix_is_fair_and_has_zero_gini():
    out = score_matrix(np.full((200, 5), 20, dtype=np.int64))
    assert out["position_fair"] and out["gini"]["mean"] == 0.0
    assert out["best_luck_prob"][0] == 1.0  # all tied: the earliest grabber has the best luck


def test_envelopes_of_different_totals_as_a_storm_audit_passes_them():
    from hongbao import kernels

    totals = np.random.default_rng(4).integers(1_000, 50_000, size=5_000)
    x = kernels.split_batch(totals, 8, algorithm="line_cut", seed=9)
    out = score_matrix(x, total_cents=totals, min_cents=1)
    assert out["exact"] and out["position_fair"]
    assert not score_matrix(x)["exact"]  # without totals: rows must share one sum
    x[123, 0] += 1
    assert score_matrix(x, total_cents=totals)["exactness"]["first_wrong_sum"]["envelope"] == 123
