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
    change: float  # new_median / base_median - 1
    p_value: float  # Mann-Whitney U, two-sided
    ratio_ci: tuple[float, float]  # bootstrap CI of new_median / base_median
    effect_size: float  # rank-biserial correlation in [-1, 1]; > 0: new tends to be larger


def mann_whitney_p(base: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(two-sided p-value, rank-biserial effect size) of Mann-Whitney U."""
    res = _sp.mannwhitneyu(new, base, alternative="two-sided")
    effect = 2.0 * float(res.statistic) / (len(base) * len(new)) - 1.0
    return float(res.pvalue), effect


def bootstrap_ratio_ci(
    base: np.ndarray, new: np.ndarray, *, confidence: float = 0.99, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
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


def paired_difference(
    base: np.ndarray, new: np.ndarray, *, confidence: float = 0.99, seed: int = 0, resamples: int = 2000
) -> Difference:
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
    return Difference(
        float(np.median(base)), float(np.median(new)), med - 1.0, p, percentile_interval(medians, confidence), effect
    )


def _t_interval(center: float, scale: float, df: float, confidence: float) -> tuple[float, float, float]:
    """(p-value of center == 0, low, high) for a t (df = inf: normal) statistic on the log scale."""
    dist = _sp.norm if not np.isfinite(df) else _sp.t(df)
    if scale <= 0:
        return (1.0 if center == 0 else 0.0), center, center
    q = float(dist.ppf(0.5 + confidence / 2.0))
    p = float(2.0 * dist.sf(abs(center) / scale))
    return p, center - q * scale, center + q * scale


def across_processes(
    ratios: np.ndarray, base_s: np.ndarray, new_s: np.ndarray, *, confidence: float = 0.99
) -> Difference:
    """Judge per-process figures: ``ratios[k]`` is process k's median per-round ratio new / base.

    Each process is one sample of where the machine code landed, so the processes, not the rounds,
    are the independent units: a one-sample t-test of the log ratios against 0, and the t interval
    of their mean (a geometric-mean ratio). ``base_s``/``new_s`` are shown medians (seconds)."""
    logs = np.log(np.asarray(ratios, dtype=np.float64))
    if len(logs) < 2:
        raise ValueError(f"need >= 2 processes (got {len(logs)})")
    center = float(np.mean(logs))
    p, lo, hi = _t_interval(center, float(np.std(logs, ddof=1)) / np.sqrt(len(logs)), len(logs) - 1, confidence)
    effect = float(np.mean(logs > 0) - np.mean(logs < 0))
    return Difference(
        float(np.median(base_s)),
        float(np.median(new_s)),
        float(np.exp(center)) - 1.0,
        p,
        (float(np.exp(lo)), float(np.exp(hi))),
        effect,
    )


def pooled_log_sd(groups: list[list[float]]) -> tuple[float, float]:
    """(pooled standard deviation of log figures, degrees of freedom) over groups of repeated runs
    of benchmarks that share one between-run spread; (nan, 0) when no group has two runs."""
    ss, df = 0.0, 0
    for values in groups:
        if len(values) >= 2:
            logs = np.log(np.asarray(values, dtype=np.float64))
            ss += float(np.sum((logs - logs.mean()) ** 2))
            df += len(logs) - 1
    return (float(np.sqrt(ss / df)), float(df)) if df else (float("nan"), 0.0)


def against_spread(
    base: float, new: float, log_sd: float, df: float, base_runs: int, new_runs: int, *, confidence: float = 0.99
) -> Difference:
    """Compare two unpaired runs' figures (``base``: median of ``base_runs`` runs, ``new`` likewise)
    against the spread between repeated runs (``log_sd``: standard deviation of one run's log figure,
    with ``df`` degrees of freedom; inf for an assumed figure). The samples of one run cannot show
    that spread: a shared host's spells move whole runs, so only repeated runs measure it."""
    center = float(np.log(new / base))
    scale = log_sd * float(np.sqrt(1.0 / base_runs + 1.0 / new_runs))
    p, lo, hi = _t_interval(center, scale, df, confidence)
    return Difference(base, new, new / base - 1.0, p, (float(np.exp(lo)), float(np.exp(hi))), 0.0)
