"""The post-storm audit on hand-made ledgers: each known defect is named in the failure."""

from __future__ import annotations

import copy

import pytest

from hongbao.loadtests.audit import audit_ledger, fairness_by_order, jain_index


def _env(eid, total, count, remaining, remaining_count, refunded=0):
    return {
        "id": eid,
        "sender": "s",
        "total_cents": total,
        "count": count,
        "remaining_cents": remaining,
        "remaining_count": remaining_count,
        "refunded_cents": refunded,
        "algorithm": "double_mean",
        "mode": "on_grab",
    }


def _grab(eid, user, amount, seq):
    return {
        "kind": "grab",
        "envelope_id": eid,
        "user": user,
        "request_id": f"{user}:{eid}",
        "amount_cents": amount,
        "seq": seq,
        "ts": 1.0,
    }


@pytest.fixture
def clean() -> dict:
    return {
        "envelopes": [_env(1, 1000, 3, 0, 0), _env(2, 500, 4, 200, 2), _env(3, 300, 2, 0, 1, refunded=100)],
        "entries": [
            _grab(1, "a", 400, 0),
            _grab(1, "b", 350, 1),
            _grab(1, "c", 250, 2),
            _grab(2, "a", 100, 0),
            _grab(2, "b", 200, 1),
            _grab(3, "c", 200, 0),
            {
                "kind": "refund",
                "envelope_id": 3,
                "user": "s",
                "request_id": "r3",
                "amount_cents": 100,
                "seq": None,
                "ts": 2.0,
            },
        ],
    }


def test_clean_ledger_passes(clean):
    res = audit_ledger(clean)
    assert res.ok, res.messages()
    assert (res.envelopes, res.grabs, res.refunds) == (3, 6, 1)
    assert res.messages() == []


def test_lost_cent_is_named(clean):
    bad = copy.deepcopy(clean)
    bad["entries"][1]["amount_cents"] = 349  # one cent vanished on envelope 1
    res = audit_ledger(bad)
    assert not res.ok
    (msg,) = res.messages()
    assert msg.startswith("conservation: 1 violation(s)")
    assert "envelope 1: lost 1 cent(s)" in msg and "999 != total 1000" in msg


def test_created_money_is_named(clean):
    bad = copy.deepcopy(clean)
    bad["envelopes"][1]["remaining_cents"] = 201
    assert "envelope 2: created 1 cent(s)" in " ".join(audit_ledger(bad).messages())


def test_double_grab_is_named(clean):
    bad = copy.deepcopy(clean)
    bad["entries"][4]["user"] = "a"  # user a grabbed envelope 2 twice
    msgs = audit_ledger(bad).messages()
    assert any(m.startswith("no double grab") and "envelope 2: user 'a' grabbed 2 times" in m for m in msgs)


def test_over_count_is_named(clean):
    bad = copy.deepcopy(clean)
    bad["entries"].append(_grab(1, "d", 0 + 1, 3))  # a 4th grab of a 3-share envelope
    bad["envelopes"][0]["remaining_cents"] = -1
    msgs = audit_ledger(bad).messages()
    assert any("envelope 1: 4 grabs > count 3" in m for m in msgs)


def test_remaining_count_mismatch_and_repeated_seq(clean):
    bad = copy.deepcopy(clean)
    bad["envelopes"][1]["remaining_count"] = 3
    bad["entries"][4]["seq"] = 0
    msg = " ".join(audit_ledger(bad).messages())
    assert "count 4 - 2 grabs != remaining_count 3" in msg
    assert "repeated seq values" in msg


def test_refund_mismatch_and_zero_grab(clean):
    bad = copy.deepcopy(clean)
    bad["entries"][-1]["amount_cents"] = 90
    bad["entries"][0]["amount_cents"] = 0
    bad["entries"][1]["amount_cents"] = 750
    msg = " ".join(audit_ledger(bad).messages())
    assert "refund entr(ies) worth 90 cents, envelope says refunded 100" in msg
    assert "every grab >= 1 cent" in msg


def test_acknowledged_grab_missing_from_ledger(clean):
    res = audit_ledger(clean, acknowledged={"a": 2, "b": 3}, attempts={"a": 2, "b": 3, "z": 4})
    assert not res.ok
    assert any("user 'b': service acknowledged 3 grab(s), ledger has 2" in m for m in res.messages())
    # Jain over every user who tried, including z who got nothing: (2+2+2+0)^2 / (4 * 12)
    assert res.access_fairness["users"] == 4
    assert res.access_fairness["jain_index"] == pytest.approx(36 / 48)
    # success rates a 2/2, b 2/3, z 0/4 -> (1 + 2/3)^2 / (3 * (1 + 4/9))
    assert res.access_fairness["jain_index_success_rate"] == pytest.approx((5 / 3) ** 2 / (3 * 13 / 9))


def test_user_prefix_limits_reconciliation(clean):
    res = audit_ledger(clean, acknowledged={"a": 2}, user_prefix="a")
    assert res.ok and res.reconciliation["ledger_grabs_this_run"] == 2


def test_malformed_ledger_is_refused():
    with pytest.raises(ValueError, match="ledger.entries must be a list"):
        audit_ledger({"envelopes": []})


def test_jain_index_bounds():
    assert jain_index([3, 3, 3]) == pytest.approx(1.0)
    assert jain_index([5, 0, 0, 0]) == pytest.approx(0.25)
    assert jain_index([]) is None


def test_fairness_by_order_flags_a_position_bias():
    envs, grabs = {}, []
    for eid in range(1, 41):  # the first grabber always gets 70 of 100 cents
        envs[eid] = _env(eid, 100, 4, 0, 0)
        for seq, amount in enumerate([70, 10, 10, 10]):
            grabs.append(_grab(eid, f"u{seq}", amount, seq))
    out = fairness_by_order(envs, grabs)
    assert out["complete_envelopes"] == 40
    assert out["positions"][0]["mean_relative_share"] == pytest.approx(2.8)
    assert out["p_value"] < 1e-6


def test_scorecard_runs_on_a_common_envelope_size():
    from hongbao.loadtests.audit import scorecard_by_size

    envs, grabs = {}, []
    for eid in range(1, 41):  # position 1 always gets 70 of 100 cents: clearly unfair
        envs[eid] = _env(eid, 100, 4, 0, 0)
        for seq, amount in enumerate([70, 10, 10, 10]):
            grabs.append(_grab(eid, f"u{seq}", amount, seq))
    (group,) = scorecard_by_size(envs, grabs, min_envelopes=30)
    assert (group["total_cents"], group["count"], group["envelopes"]) == (100, 4, 40)
    assert group["exact"] is True and group["position_fair"] is False
    assert group["mean_cents_by_position"] == [70.0, 10.0, 10.0, 10.0]


def test_audit_command_on_a_saved_ledger(clean, tmp_path, capsys):
    import json

    from hongbao.loadtests.audit import main

    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(clean))
    assert main([str(path)]) == 0
    clean["entries"][0]["amount_cents"] = 399
    path.write_text(json.dumps(clean))
    assert main([str(path)]) == 4
    assert "envelope 1: lost 1 cent(s)" in capsys.readouterr().out
