"""--callable audits: exactness first (broken allocators are not scored), then the scorecard."""

from __future__ import annotations

import numpy as np
import pytest

from hongbao.harness.fairness import score_allocator
from hongbao.harness.fairness.allocator import load_callable, run_allocator
from tests.support import allocators

KW = dict(total=10_000, count=10, envelopes=3_000, seed=42, alpha=0.01)


def test_correct_allocator_is_scored_and_fair():
    out = score_allocator(allocators.fair_cuts, **KW)
    assert not out.get("broken") and out["exact"] and out["position_fair"]
    assert out["envelopes"] == 3_000


def test_loses_a_cent_is_broken_not_scored():
    out = score_allocator(allocators.loses_a_cent, **KW)
    assert out["broken"] and out["exact"] is False and out["position_fair"] is None
    first = out["exactness"]["first_failure"]
    assert first["envelope"] == 0 and "sum to" in first["problem"] and "total = 10000" in first["problem"]
    assert "positions" not in out  # no fairness figures for wrong money


def test_below_minimum_shows_the_first_failing_envelope():
    out = score_allocator(allocators.below_minimum, **KW)
    first = out["exactness"]["first_failure"]
    assert out["broken"] and "below min_cents = 1" in first["problem"]
    assert first["envelope"] > 0 and out["exactness"]["checked_envelopes"] == first["envelope"] + 1
    assert "0" in first["returned"]


@pytest.mark.parametrize(
    "func,needle", [(allocators.float_shares, "not an integer"), (allocators.crashes, "raised RuntimeError")]
)
def test_other_breakages(func, needle):
    out = score_allocator(func, **KW)
    assert out["broken"] and needle in out["exactness"]["first_failure"]["problem"]


def test_wrong_count_and_cap():
    out = score_allocator(lambda t, c: [t], **KW)
    assert "returned 1 shares for count = 10" in out["exactness"]["first_failure"]["problem"]
    out = score_allocator(allocators.fair_cuts, **{**KW, "max_cents": 3000})
    assert "above max_cents = 3000" in out["exactness"]["first_failure"]["problem"]


def test_position_biased_allocator_is_exact_but_not_fair():
    out = score_allocator(allocators.first_grabber_bias, **KW)
    assert out["exact"] and out["position_fair"] is False and out["min_p_value"] < 1e-6


def test_audit_is_seeded():
    a, _ = run_allocator(allocators.fair_cuts, total=500, count=5, envelopes=50, seed=7)
    b, _ = run_allocator(allocators.fair_cuts, total=500, count=5, envelopes=50, seed=7)
    c, _ = run_allocator(allocators.fair_cuts, total=500, count=5, envelopes=50, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "spec,needle",
    [
        ("tests.support.allocators", "package.module:function"),
        ("no_such_pkg_xyz.mod:f", "cannot import"),
        ("tests.support.allocators:missing", "no attribute"),
        ("tests.support.allocators:not_callable", "not callable"),
    ],
)
def test_load_callable_errors(spec, needle):
    with pytest.raises(ValueError, match=needle):
        load_callable(spec)
    assert load_callable("tests.support.allocators:fair_cuts") is allocators.fair_cuts
