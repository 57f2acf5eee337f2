"""Fairness scorecard: is a split fair to every grab position, with tests strong enough for CI.

Stable public API (the storm audit and the regression gate rely on it)::

    score_matrix(shares_2d, *, alpha=0.01, total_cents=None, min_cents=None, tie_seed=0) -> dict
        shares_2d: int matrix, envelopes x positions, cents in grab order. JSON-ready dict with
        "positions" (mean_cents, mean_ci, std_cents, std_ci, best_luck_prob, best_luck_ci),
        "best_luck_prob" (ties to the earliest grabber), "gini" / "min_share" / "max_share"
        summaries with histograms, "tests" and "p_values" {position_bins, best_luck, spread},
        "min_p_value", "bonferroni", "position_fair" (no test rejects at alpha / 3), "testable"
        (False when no share varies: a forced split) and "exact" (every row sums to total_cents,
        or to one common sum when None; no share < min_cents). Rows may have different totals.

    scorecard(algorithms, *, total, count, envelopes, seed, alpha=0.01, min_cents=1, max_cents=None)
        -> the fairness.json document {"schema": "hongbao.fairness/1", "alpha", "total_cents",
        "count", "envelopes", "seed", "min_cents", "max_cents",
        "algorithms": {name: score_matrix(...) + {"claimed_position_fair", "theory", ...}}}

    score_allocator(func, *, total, count, envelopes, seed, alpha, ...) -> one "algorithms" entry
        for a user allocator f(total, count) -> list[int]; {"broken": True, ...} if not exact.

The tests (see harness/fairness/stats.py) treat each envelope as a block, so the dependence
between the shares of one envelope (they add up to its total) does not inflate false alarms.
"""

from hongbao.harness.fairness.score import score_matrix
from hongbao.harness.fairness.scorecard import SCHEMA, score_allocator, scorecard

__all__ = ["SCHEMA", "score_matrix", "scorecard", "score_allocator"]
