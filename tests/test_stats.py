"""harness.stats: Mann-Whitney U and the bootstrap CI of the median ratio on seeded samples."""
from __future__ import annotations

import numpy as np
import pytest

from harness import stats


def samples(scale: float, n: int = 60, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scale * (1.0 + 0.05 * rng.standard_normal(n)) + 0.02 * rng.exponential(size=n)


def test_same_distribution_is_not_significant():
    d = stats.difference(samples(1.0, seed=1), samples(1.0, seed=2))
    assert d.p_value > 0.01
    assert d.ratio_ci[0] < 1.0 < d.ratio_ci[1]


def test_thirty_percent_shift_is_significant_and_ci_brackets_it():
    d = stats.difference(samples(1.0, seed=3), samples(1.3, seed=4))
    assert d.p_value < 1e-6
    assert d.change == pytest.approx(0.3, abs=0.05)
    assert d.ratio_ci[0] > 1.2 and d.ratio_ci[1] < 1.4
    assert d.effect_size > 0.9  # almost every new sample above every base sample


def test_faster_has_negative_change_and_effect():
    d = stats.difference(samples(1.0, seed=5), samples(0.7, seed=6))
    assert d.change < -0.2 and d.effect_size < -0.9


def test_bootstrap_is_reproducible():
    a, b = samples(1.0, seed=7), samples(1.1, seed=8)
    assert stats.bootstrap_ratio_ci(a, b, seed=3) == stats.bootstrap_ratio_ci(a, b, seed=3)


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match=">= 2 samples"):
        stats.difference(np.array([1.0]), np.array([1.0, 2.0]))
