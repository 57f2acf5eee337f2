"""Tests of position exchangeability and confidence intervals, from the sums of metrics.py.

Why not plain ``scipy.stats.chi2_contingency`` or ``levene``: the shares of one envelope are not
independent (they add up to its total), so the observations in a (position x share-bin) table or
in Levene's groups are correlated across positions, which the textbook tests ignore, and so
they raise more false alarms than their level on a fair algorithm (docs/fairness.md has the
calibration). Under the null hypothesis (the shares of an envelope are
exchangeable) the covariance is compound-symmetric, so the randomized-block ("repeated measures")
form of each test is valid: envelopes are blocks, positions are treatments, and the error
covariance is estimated from the position-by-envelope residuals. For a scalar feature this is the
two-way ANOVA F test; for the share-bin indicators it is its multivariate (Wald) form, a
chi-squared statistic with (positions - 1) x (bins - 1) degrees of freedom. Best-luck positions
(ties broken at random) are independent across envelopes, so their test is an ordinary
chi-squared goodness of fit.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

CI_LEVEL = 0.95


def block_wald(pos_means: np.ndarray, within: np.ndarray, n_env: int) -> dict:
    """Test that a (vector) feature has the same mean at every position, envelopes as blocks.

    ``pos_means``: (N, d) mean feature by position; ``within``: (d, d) sum over envelopes and
    positions of (g_ep - g_e)(g_ep - g_e)^T, g_e the envelope's mean over positions.
    Returns statistic, df and p_value (chi-squared for d > 1, F for d == 1); p = 1 when the
    feature never varies inside an envelope (nothing to test).
    """
    pos_means = np.atleast_2d(np.asarray(pos_means, dtype=np.float64).T).T
    n_pos, d = pos_means.shape
    dev = pos_means - pos_means.mean(axis=0)
    between = n_env * dev.T @ dev
    resid_df = (n_env - 1) * (n_pos - 1)
    if n_pos < 2 or n_env < 2:
        return {"statistic": 0.0, "df": 0, "p_value": 1.0, "applicable": False}
    K = (np.atleast_2d(within) - between) / resid_df
    K = (K + K.T) / 2
    vals, vecs = np.linalg.eigh(K)
    keep = vals > max(vals.max(initial=0.0), 0.0) * 1e-9
    rank = int(keep.sum())
    if rank == 0 or vals.max(initial=0.0) <= 0:
        return {"statistic": 0.0, "df": 0, "p_value": 1.0, "applicable": False}
    proj = dev @ vecs[:, keep]  # (N, rank)
    stat = float(n_env * np.sum(proj * proj / vals[keep]))
    df = (n_pos - 1) * rank
    if d == 1:
        f_stat = stat / (n_pos - 1)
        return {
            "statistic": f_stat,
            "df": [n_pos - 1, resid_df],
            "p_value": float(sps.f.sf(f_stat, n_pos - 1, resid_df)),
            "applicable": True,
            "kind": "F",
        }
    # chi2(df) in the limit; F(df, residual df) of stat / df keeps small samples honest
    return {
        "statistic": stat,
        "df": df,
        "p_value": float(sps.f.sf(stat / df, df, resid_df * rank)),
        "applicable": True,
        "kind": "chi2/df ~ F",
    }


def bins_test(table: np.ndarray, cross: np.ndarray, n_env: int) -> dict:
    """Position x share-bin test (block design). ``table`` (N, B) counts; ``cross`` (B, B) = sum_e c_e c_e^T."""
    n_pos = table.shape[0]
    col = table.sum(axis=0).astype(np.float64)
    within = np.diag(col) - cross.astype(np.float64) / n_pos
    out = block_wald(table / float(n_env), within, n_env)
    out["bins"] = int(table.shape[1])
    return out


def spread_test(spread_sum: np.ndarray, spread_within: float, n_env: int) -> dict:
    """Brown-Forsythe in block form: equal mean |share - pooled median| at every position."""
    return block_wald((spread_sum / n_env)[:, None], np.array([[spread_within]]), n_env)


def best_luck_test(best_random: np.ndarray, n_pos: int) -> dict:
    """Chi-squared goodness of fit of best-luck positions (ties at random) against uniform."""
    counts = np.bincount(best_random, minlength=n_pos)
    if n_pos < 2:
        return {"statistic": 0.0, "df": 0, "p_value": 1.0, "applicable": False}
    res = sps.chisquare(counts)
    return {
        "statistic": float(res.statistic),
        "df": n_pos - 1,
        "p_value": float(res.pvalue),
        "applicable": True,
        "kind": "chi2",
    }


def z_value(level: float = CI_LEVEL) -> float:
    return float(sps.norm.ppf(0.5 + level / 2))


def mean_std_ci(mean: np.ndarray, m2: np.ndarray, m4: np.ndarray, n: int, level: float = CI_LEVEL):
    """Normal CIs for each position's mean and (delta method, any distribution) its std."""
    z = z_value(level)
    var = m2 / n
    std = np.sqrt(var)
    mu4 = m4 / n
    half_mean = z * std / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_std = np.where(std > 0, np.sqrt(np.maximum(mu4 - var * var, 0.0) / (4 * var * n)), 0.0)
    sample_std = np.sqrt(m2 / max(n - 1, 1))
    return (
        sample_std,
        np.stack([mean - half_mean, mean + half_mean], axis=1),
        np.stack([np.maximum(sample_std - z * se_std, 0.0), sample_std + z * se_std], axis=1),
    )


def wilson_ci(successes: np.ndarray, n: int, level: float = CI_LEVEL) -> np.ndarray:
    """Wilson score interval for binomial proportions; (k, 2) array."""
    z = z_value(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.stack([np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)], axis=1)


def bonferroni(p_values: dict[str, float], alpha: float) -> dict:
    """Combine the family: reject when any p < alpha / k (k = number of tests)."""
    k = max(len(p_values), 1)
    p_min = min(p_values.values(), default=1.0)
    return {
        "tests": k,
        "per_test_level": alpha / k,
        "min_p_value": p_min,
        "combined_p_value": min(1.0, p_min * k),
        "reject": p_min < alpha / k,
    }
