"""Statistics for the regression gate: plain functions on raw samples, no I/O.

``change`` is the relative change of medians (new / base - 1; > 0 means slower for times).
Significance is a two-sided Mann-Whitney U test on the raw samples; the bootstrap interval is for
the ratio of medians, with a seeded generator so the gate is reproducible. Samples paired round by
round (new and base code timed alternately in one run) are judged on the per-round ratios instead:
Wilcoxon's signed-rank test on their logarithms and a bootstrap interval of their median.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _sp


@dataclass(frozen=True)
class Difference:
    base_median: float
    new_median: float
    change: float          # new_median / base_median - 1
    p_value: float         # Mann-Whitney U, two-sided
    ratio_ci: tuple[float, float]  # bootstrap CI of new_median / base_median
    effect_size: float     # rank-biserial correlation in [-1, 1]; > 0: new tends to be larger


def mann_whitney_p(base: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(two-sided p-value, rank-biserial effect size) of Mann-Whitney U."""
    res = _sp.mannwhitneyu(new, base, alternative="two-sided")
    effect = 2.0 * float(res.statistic) / (len(base) * len(new)) - 1.0
    return float(res.pvalue), effect


def bootstrap_ratio_ci(base: np.ndarray, new: np.ndarray, *, confidence: float = 0.99,
                       resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(new) / median(base)."""
    rng = np.random.default_rng(seed)
    b = np.median(rng.choice(base, size=(resamples, len(base)), replace=True), axis=1)
    n = np.median(rng.choice(new, size=(resamples, len(new)), replace=True), axis=1)
    return percentile_interval(n / b, confidence)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of bootstrap ``values`` (percentile method)."""
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi)


def difference(base: np.ndarray, new: np.ndarray, *, confidence: float = 0.99, seed: int = 0) -> Difference:
    """Compare two samples of the same benchmark."""
    base = np.asarray(base, dtype=np.float64)
    new = np.asarray(new, dtype=np.float64)
    if len(base) < 2 or len(new) < 2:
        raise ValueError(f"need >= 2 samples on each side (got {len(base)} and {len(new)})")
    bm, nm = float(np.median(base)), float(np.median(new))
    p, effect = mann_whitney_p(base, new)
    ci = bootstrap_ratio_ci(base, new, confidence=confidence, seed=seed)
    return Difference(bm, nm, nm / bm - 1.0, p, ci, effect)


def paired_difference(base: np.ndarray, new: np.ndarray, *, confidence: float = 0.99, seed: int = 0,
                      resamples: int = 2000) -> Difference:
    """Compare samples paired round by round (``new[i]`` and ``base[i]`` timed side by side).

    ``change`` and ``ratio_ci`` are for the median of the per-round ratios new / base; the p-value
    is Wilcoxon's signed-rank test (two-sided) of their logarithms against 0; the effect size is the
    share of rounds where new was slower minus the share where it was faster."""
    base = np.asarray(base, dtype=np.float64)
    new = np.asarray(new, dtype=np.float64)
    if len(base) != len(new):
        raise ValueError(f"paired samples differ in length: {len(base)} base vs {len(new)} new")
    if len(base) < 2:
        raise ValueError(f"need >= 2 paired rounds (got {len(base)})")
    ratios = new / base
    logs = np.log(ratios)
    p = 1.0 if not np.any(logs) else float(_sp.wilcoxon(logs, alternative="two-sided").pvalue)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(ratios, size=(resamples, len(ratios)), replace=True), axis=1)
    effect = float(np.mean(ratios > 1.0) - np.mean(ratios < 1.0))
    med = float(np.median(ratios))
    return Difference(float(np.median(base)), float(np.median(new)), med - 1.0, p,
                      percentile_interval(medians, confidence), effect)
