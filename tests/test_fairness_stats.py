"""The exchangeability tests: right size on independent data, power where bias exists."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from hongbao.harness.fairness import metrics, stats


def test_bins_statistic_equals_pearson_when_positions_are_independent():
    # independent shares: the block-design statistic estimates the same thing as Pearson's
    x = np.random.default_rng(5).integers(0, 1000, size=(20000, 6), dtype=np.int64)
    p = metrics.run_passes(x, bins=8)
    ours = stats.bins_test(p.table, p.cross, x.shape[0])
    pearson = sps.chi2_contingency(p.table, correction=False)
    assert ours["df"] == pearson.dof
    assert abs(ours["statistic"] - pearson.statistic) < 0.05 * pearson.statistic + 2


def test_block_wald_scalar_is_the_two_way_anova_f():
    rng = np.random.default_rng(9)
    g = rng.normal(size=(300, 5)) + rng.normal(size=(300, 1))  # envelope (block) effects
    g[:, 4] += 0.2
    within = ((g - g.mean(1, keepdims=True)) ** 2).sum()
    out = stats.block_wald(g.mean(0)[:, None], np.array([[within]]), 300)
    # textbook randomized-block ANOVA
    grand = g.mean()
    ss_pos = 300 * ((g.mean(0) - grand) ** 2).sum()
    ss_res = ((g - g.mean(1, keepdims=True) - g.mean(0) + grand) ** 2).sum()
    f = (ss_pos / 4) / (ss_res / (299 * 4))
    assert np.isclose(out["statistic"], f)
    assert np.isclose(out["p_value"], sps.f.sf(f, 4, 299 * 4))


def test_shift_at_one_position_is_found():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 1000, size=(5000, 8), dtype=np.int64)
    x[:, 3] += 60
    p = metrics.run_passes(x)
    assert stats.bins_test(p.table, p.cross, 5000)["p_value"] < 1e-6


def test_spread_difference_is_found():
    rng = np.random.default_rng(3)
    x = (1000 + rng.normal(0, 100, size=(5000, 6))).astype(np.int64)
    x[:, 5] = 1000 + (rng.normal(0, 130, size=5000)).astype(np.int64)  # same mean, more spread
    p = metrics.run_passes(x)
    assert stats.spread_test(p.spread_sum, p.spread_within, 5000)["p_value"] < 1e-6


def test_degenerate_feature_is_not_applicable():
    out = stats.block_wald(np.zeros((4, 1)), np.zeros((1, 1)), 100)
    assert out["p_value"] == 1.0 and not out["applicable"]


def test_bonferroni():
    fam = stats.bonferroni({"a": 0.004, "b": 0.5, "c": 0.9}, 0.01)
    assert fam["reject"] is False and np.isclose(fam["combined_p_value"], 0.012)
    assert stats.bonferroni({"a": 0.003, "b": 0.5, "c": 0.9}, 0.01)["reject"] is True


def test_wilson_interval_covers_and_stays_in_unit_interval():
    ci = stats.wilson_ci(np.array([0, 5, 100]), 100)
    assert np.all((ci >= 0) & (ci <= 1))
    assert np.isclose(ci[0, 0], 0) and np.isclose(ci[2, 1], 1) and ci[1, 0] < 0.05 < ci[1, 1]
