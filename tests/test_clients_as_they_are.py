"""Clients as they are: the shipped countdown storm (double taps, retries after a client timeout,
re-taps) through the example service's adapter fails its audit (exit 4) when the service pays a
retry twice, with and without its ledger export, and passes without the bug. Storms of 4 s."""

from __future__ import annotations

import json

import pytest

from hongbao.harness.cli import main
from hongbao.harness.report.sections.storm import markdown
from hongbao.loadtests.audit_client import check_client_behaviours
from hongbao.loadtests.exitcodes import Exit
from tests.support.yuan_proc import yuan_service

ADAPTER = "hongbao.loadtests.examples.yuan_adapter:YuanAdapter"


def _countdown(tmp_path, url: str) -> tuple[int, dict]:
    out = tmp_path / "run"
    code = main(
        [
            "storm",
            "--scenario",
            "countdown",
            "--duration",
            "4",
            "--host",
            url,
            "--adapter",
            ADAPTER,
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    return code, json.loads((out / "storm.json").read_text())


@pytest.mark.storm
@pytest.mark.timeout(120)
@pytest.mark.parametrize("export", [True, False], ids=["ledger-export", "client-side"])
@pytest.mark.parametrize("bug", [None, "double-pay"])
def test_countdown_catches_a_service_that_pays_a_retry_twice(tmp_path, bug, export):
    args = (("--bug", bug) if bug else ()) + (() if export else ("--no-export",))
    with yuan_service(*args) as url:
        code, d = _countdown(tmp_path, url)
    played = {k: v["played"] for k, v in d["clients"].items()}
    assert all(n > 0 for n in played.values()), played  # every behaviour was played
    failed = {c["name"] for c in d["audit"]["checks"] if not c["ok"]}
    if bug is None:
        assert code == Exit.OK == d["exit"]["code"], d["exit"]
        assert d["totals"]["repeat"] > 0 and not failed
    else:
        assert code == Exit.AUDIT_FAILED == d["exit"]["code"]
        assert "client behaviours: at most one payment per user and envelope" in failed, d["audit"]["failures"]
        assert ("no double grab" if export else "no user granted twice in one envelope") in failed
    report = markdown(d)
    assert (
        f"double taps {played['double_tap']:,}, retries after a client timeout {played['retry']:,}, "
        f"re-taps {played['re_tap']:,}"
    ) in report


def test_client_behaviour_checks_name_each_violation():
    good = [
        ["E1", "u1", "double_tap", [["granted", 50], ["repeat", 50]]],
        ["E1", "u2", "retry", [["sold_out", None], ["sold_out", None]]],
        ["E2", "u1", "re_tap", [["granted", 7], ["repeat", 7]]],
    ]
    assert all(c.ok for c in check_client_behaviours(good))
    bad = [
        ["E1", "u1", "retry", [["granted", 50], ["granted", 40]]],
        ["E2", "u3", "re_tap", [["granted", 7], ["repeat", 8]]],
        ["E3", "u4", "retry", [["granted", 9], ["sold_out", None]]],
        ["E4", "u5", "double_tap", [["error", None], ["granted", 3]]],
    ]
    once, same = check_client_behaviours(bad)
    assert once.violations == 1 and "user 'u1' paid 2 times" in once.examples[0]
    assert same.examples == [
        "retry: envelope E1: user 'u1' granted 50 cents, then answered granted 40",
        "re_tap: envelope E2: user 'u3' granted 7 cents, then answered repeat 8",
        "retry: envelope E3: user 'u4' granted 9 cents, then answered sold_out",
    ]
