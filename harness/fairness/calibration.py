"""Are the tests calibrated? Score a fair algorithm over many seeds and count false alarms.

For an algorithm that is position-fair, each seed's verdict is a Bernoulli trial that wrongly
says "unfair" with probability at most alpha (Bonferroni is conservative). A one-sided binomial
test of the false-alarm count against alpha, and a Kolmogorov-Smirnov test of each component
test's p-values against uniform (0, 1), say whether the statistics can be trusted in CI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as sps

from hongbao.harness.fairness.score import score_matrix
from hongbao.harness.fairness.scorecard import split_matrix


def calibrate(
    algorithm: str,
    *,
    seeds: int,
    first_seed: int,
    total: int,
    count: int,
    envelopes: int,
    alpha: float = 0.01,
    min_cents: int = 1,
    max_cents: int | None = None,
    advance: Callable[[int], None] | None = None,
) -> dict:
    """Score ``algorithm`` with seeds first_seed .. first_seed+seeds-1; returns the calibration figures."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1 (got {seeds})")
    p_values: dict[str, list[float]] = {}
    alarms = 0
    for s in range(first_seed, first_seed + seeds):
        shares = split_matrix(
            algorithm, total=total, count=count, envelopes=envelopes, seed=s, min_cents=min_cents, max_cents=max_cents
        )
        res = score_matrix(shares, alpha=alpha, total_cents=total, min_cents=min_cents, tie_seed=s)
        alarms += not res["position_fair"]
        for name, test in res["tests"].items():
            if test.get("applicable", True):
                p_values.setdefault(name, []).append(test["p_value"])
        if advance:
            advance(1)
    binom = sps.binomtest(alarms, seeds, alpha, alternative="greater")
    uniform = {name: float(sps.kstest(ps, "uniform").pvalue) for name, ps in p_values.items() if len(ps) >= 5}
    return {
        "algorithm": algorithm,
        "seeds": seeds,
        "first_seed": first_seed,
        "envelopes": envelopes,
        "alpha": alpha,
        "false_alarms": alarms,
        "false_alarm_rate": alarms / seeds,
        "binomial_p_value": float(binom.pvalue),
        "ks_uniform_p_values": uniform,
        "mean_p_values": {name: float(np.mean(ps)) for name, ps in p_values.items()},
        "consistent_with_alpha": bool(binom.pvalue >= alpha),
    }
