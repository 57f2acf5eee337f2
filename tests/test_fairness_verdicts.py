"""The issue's claims, measured: naive and double_mean flagged, line_cut / equal / beta pass, and
the fair ones' false-alarm rate over repeated seeds is consistent with alpha."""

from __future__ import annotations

import pytest

from hongbao.harness.fairness import scorecard
from hongbao.harness.fairness.calibration import calibrate

ALPHA = 0.01


@pytest.fixture(scope="module")
def card():
    # total 10_003: equal then has a remainder to hand out (3 random people get a cent more)
    return scorecard(
        ["naive", "double_mean", "line_cut", "equal", "beta"],
        total=10_003,
        count=10,
        envelopes=20_000,
        seed=20261125,
        alpha=ALPHA,
    )


def test_naive_is_flagged_unfair_beyond_one_in_a_million(card):
    naive = card["algorithms"]["naive"]
    assert naive["position_fair"] is False
    assert naive["min_p_value"] < 1e-6
    assert naive["best_luck_prob"][0] > 0.5  # the first grabber usually wins


def test_double_mean_has_equal_means_but_rising_spread(card):
    dm = card["algorithms"]["double_mean"]
    assert dm["position_fair"] is False and dm["p_values"]["spread"] < 1e-6
    std = dm["positions"]["std_cents"]
    assert std[-1] > 1.2 * std[0] and std[-2] > std[3] > std[0]
    # equal means up to sampling error (SE of a position mean is about 5 cents here; naive: ~5000)
    assert dm["mean_spread_cents"] < 0.05 * 1000.3


@pytest.mark.parametrize("name", ["line_cut", "equal", "beta"])
def test_fair_algorithms_pass(card, name):
    entry = card["algorithms"][name]
    assert entry["claimed_position_fair"] and entry["position_fair"], entry["p_values"]
    assert entry["exact"]


@pytest.mark.parametrize("name", ["naive", "double_mean", "line_cut", "equal", "beta"])
def test_first_share_matches_its_exact_law(card, name):
    fit = card["algorithms"][name]["theory"]
    assert fit["outside_support"] == 0
    assert fit["p_value"] > 1e-4, fit


def test_schema_keys_the_regression_gate_reads(card):
    assert card["schema"] == "hongbao.fairness/1"
    assert {"alpha", "total_cents", "count", "envelopes", "seed", "algorithms"} <= card.keys()
    for entry in card["algorithms"].values():
        assert {"position_fair", "p_values", "min_p_value", "claimed_position_fair", "exact"} <= entry.keys()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,total,envelopes",
    [("line_cut", 10_000, 1500), ("equal", 10_003, 1500), ("beta", 10_000, 1500), ("line_cut", 10_000, 80)],
)
def test_false_alarm_rate_consistent_with_alpha(name, total, envelopes):
    # 80 envelopes: the small-sample F reference keeps the block tests honest with few blocks too
    out = calibrate(name, seeds=100, first_seed=7000, total=total, count=10, envelopes=envelopes, alpha=ALPHA)
    assert out["consistent_with_alpha"], out
    assert out["false_alarms"] <= 5, out
    assert min(out["ks_uniform_p_values"].values()) > 1e-3, out  # p-values look uniform under the null


def test_capped_beta_is_flagged_and_its_claim_says_so():
    """A binding cap clips beta's early shares and moves money to the last grabbers: the scorecard
    must see it, and the registry must not claim fairness for capped beta."""
    card = scorecard(["beta"], total=10_000, count=10, envelopes=20_000, seed=1, alpha=ALPHA, max_cents=1500)
    entry = card["algorithms"]["beta"]
    assert not entry["position_fair"], entry["p_values"]
    assert entry["claimed_position_fair"] is False
