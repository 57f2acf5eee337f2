"""hongbao.harness.stats: Mann-Whitney U and the bootstrap CI of the median ratio on seeded samples."""

from __future__ import annotations

import numpy as np
import pytest

from hongbao.harness import stats


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


def drifting_pairs(factor: float, n: int = 60, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Base and new timed side by side while the host's speed drifts by up to 2x across rounds."""
    rng = np.random.default_rng(seed)
    host = 1.0 + 0.5 * (1.0 + np.sin(np.linspace(0.0, 6.0, n)))
    base = host * (1.0 + 0.02 * rng.standard_normal(n))
    new = factor * host * (1.0 + 0.02 * rng.standard_normal(n))
    return base, new


def test_paired_difference_sees_through_a_drift_the_unpaired_test_cannot():
    base, new = drifting_pairs(1.12)
    paired = stats.paired_difference(base, new)
    assert paired.change == pytest.approx(0.12, abs=0.02)
    assert paired.p_value < 1e-6 and paired.ratio_ci[0] > 1.08 and paired.effect_size > 0.9
    unpaired = stats.difference(base, new)
    assert unpaired.ratio_ci[0] < 1.0  # the drift swamps a 12% change when pairs are ignored


def test_paired_difference_of_identical_code_is_not_significant():
    base, new = drifting_pairs(1.0, seed=10)
    d = stats.paired_difference(base, new)
    assert d.p_value > 0.01 and d.ratio_ci[0] < 1.0 < d.ratio_ci[1]
    assert stats.paired_difference(base, base).p_value == 1.0


def test_paired_difference_refuses_unpaired_input():
    with pytest.raises(ValueError, match="differ in length: 2 base vs 3 new"):
        stats.paired_difference(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=">= 2 paired rounds"):
        stats.paired_difference(np.ones(1), np.ones(1))
