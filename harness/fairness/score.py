"""``score_matrix``: every fairness figure of one share matrix, as a JSON-ready dict."""

from __future__ import annotations

import numpy as np

from hongbao.harness.fairness import metrics, stats

#: envelopes per share bin and position the bin test wants on average (keeps the chi-squared valid)
MIN_PER_BIN = 20
MAX_BINS = 10
HIST_BINS = 40


def _summary(values: np.ndarray, *, lo: float | None = None, hi: float | None = None) -> dict:
    """Mean, std, quantiles and a histogram of a per-envelope figure."""
    values = np.asarray(values)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    q = np.quantile(values, [0.01, 0.05, 0.5, 0.95, 0.99])
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "p01": float(q[0]),
        "p05": float(q[1]),
        "p50": float(q[2]),
        "p95": float(q[3]),
        "p99": float(q[4]),
        "max": float(values.max()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _exactness(row_sum: np.ndarray, row_min: np.ndarray, total_cents, min_cents) -> dict:
    """Money checks on the matrix: every row sums to its total, no share below the floor."""
    floor = 0 if min_cents is None else int(min_cents)
    if total_cents is None:
        expect = np.full(row_sum.shape, row_sum[0] if row_sum.size else 0)
    else:
        expect = np.broadcast_to(np.asarray(total_cents, dtype=np.int64), row_sum.shape)
    bad_sum = np.flatnonzero(row_sum != expect)
    bad_min = np.flatnonzero(row_min < floor)
    out: dict[str, object] = {
        "exact": bool(bad_sum.size == 0 and bad_min.size == 0),
        "min_cents": floor,
        "rows_with_wrong_sum": int(bad_sum.size),
        "rows_below_min": int(bad_min.size),
    }
    if bad_sum.size:
        e = int(bad_sum[0])
        out["first_wrong_sum"] = {"envelope": e, "sum_cents": int(row_sum[e]), "expected_cents": int(expect[e])}
    if bad_min.size:
        e = int(bad_min[0])
        out["first_below_min"] = {"envelope": e, "min_share_cents": int(row_min[e])}
    return out


def score_matrix(
    shares_2d: np.ndarray, *, alpha: float = 0.01, total_cents=None, min_cents=None, tie_seed: int = 0
) -> dict:
    """Score a matrix of shares (envelopes x positions, integer cents, grab order).

    Returns per-position mean/std with CIs, best-luck probability (ties to the earliest grabber),
    Gini/min/max distributions, the exchangeability tests' p-values combined with Bonferroni at
    ``alpha``, ``position_fair`` (no test rejects), ``testable`` (shares vary at all) and ``exact``
    (every row sums to ``total_cents`` — its common sum when None — and no share is below
    ``min_cents``, 0 when None).
    """
    shares = np.asarray(shares_2d)
    if shares.ndim != 2 or shares.shape[0] < 2 or shares.shape[1] < 1:
        raise ValueError(f"shares_2d must be a 2-D matrix with >= 2 envelopes (got shape {shares.shape})")
    if shares.size and not np.issubdtype(shares.dtype, np.integer):
        raise ValueError(f"shares_2d must hold integer cents (got dtype {shares.dtype})")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1) (got {alpha})")
    n_env, n_pos = shares.shape
    bins = int(max(2, min(MAX_BINS, n_env // MIN_PER_BIN)))
    p = metrics.run_passes(shares, bins=bins, tie_seed=tie_seed)
    std, mean_ci, std_ci = stats.mean_std_ci(p.mean, p.m2, p.m4, n_env)
    best_counts = np.bincount(p.best_first, minlength=n_pos)
    best_prob = best_counts / n_env
    tests = {
        "position_bins": stats.bins_test(p.table, p.cross, n_env),
        "best_luck": stats.best_luck_test(p.best_random, n_pos),
        "spread": stats.spread_test(p.spread_sum, p.spread_within, n_env),
    }
    p_values = {k: v["p_value"] for k, v in tests.items()}
    family = stats.bonferroni(p_values, alpha)
    exactness = _exactness(p.row_sum, p.row_min, total_cents, min_cents)
    ties = float(np.mean(p.best_first != p.best_random))
    return {
        "envelopes": n_env,
        "count": n_pos,
        "alpha": alpha,
        "ci_level": stats.CI_LEVEL,
        "exact": exactness["exact"],
        "exactness": exactness,
        "positions": {
            "mean_cents": p.mean.tolist(),
            "mean_ci": mean_ci.tolist(),
            "std_cents": std.tolist(),
            "std_ci": std_ci.tolist(),
            "best_luck_prob": best_prob.tolist(),
            "best_luck_ci": stats.wilson_ci(best_counts, n_env).tolist(),
        },
        "best_luck_prob": best_prob.tolist(),
        "best_luck_tie_rate": ties,
        "mean_spread_cents": float(p.mean.max() - p.mean.min()),
        "std_ratio_last_first": float(std[-1] / std[0]) if std[0] > 0 else None,
        "gini": _summary(p.gini, lo=0.0, hi=max(float(p.gini.max()), (n_pos - 1) / n_pos if n_pos > 1 else 1.0)),
        "min_share": _summary(p.row_min),
        "max_share": _summary(p.row_max),
        "tests": tests,
        "p_values": p_values,
        "min_p_value": family["min_p_value"],
        "bonferroni": family,
        "position_fair": not family["reject"],
        # False when no share varies inside any envelope (a forced split): nothing can be unfair
        "testable": bool(tests["position_bins"]["applicable"] or tests["spread"]["applicable"]),
    }
