"""``hongbao soak``: a 60 s soak through five faults on a real redis-server and service
audits clean; planted defects (a lost acknowledgement, a refund that never happens, a lost cent)
make the checker fail it with exit 4; bad schedules are refused before anything starts."""

from __future__ import annotations

import json

import pytest

from hongbao.harness.cli import main
from hongbao.harness.report.sections.soak import render
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.faults.soak import SoakConfig, run_soak
from hongbao.loadtests.faults.soak_load import LoadConfig
from hongbao.loadtests.faults.spec import parse_nemesis

NEMESIS = "kill-redis@8s,pause-service@17s+3s,kill-service@28s,pause-redis@38s+3s,restart-redis@49s"


@pytest.mark.slow
@pytest.mark.redis
def test_a_60s_soak_through_five_faults_loses_nothing(tmp_path, capsys):
    out = tmp_path / "soak"
    code = main(["soak", "--duration", "60", "--nemesis", NEMESIS, "--out", str(out)])
    doc = json.loads((out / "soak.json").read_text())
    assert code == Exit.OK, doc["failures"]
    assert doc["audit_ok"] and doc["failures"] == []
    assert [f["kind"] for f in doc["faults"]] == [
        "kill-redis",
        "pause-service",
        "kill-service",
        "pause-redis",
        "restart-redis",
    ]
    for f in doc["faults"]:
        assert f["error"] is None and f["check_ok"] is True, f
        assert f["recovery_s"] is not None and f["recovery_s"] >= f["down_s"] > 0, f
    # everysec: a SIGKILLed redis-server may lose only grabs acknowledged < 2 s before the kill
    assert doc["lost_acks_beyond_promise"] == 0
    assert doc["acknowledged"] > 10_000 and doc["duration_s"] == 60
    assert doc["partial_index_entries"] == 0
    assert set(doc["refund_outcomes"]) <= {"ok", "already_refunded"}
    assert sum(doc["refund_outcomes"].values()) >= doc["envelopes_created"]
    money = doc["money"]
    assert money["total_cents"] == money["grabbed_cents"] + money["remaining_cents"] + money["refunded_cents"]
    assert money["remaining_cents"] == 0, "every envelope expired and was refunded by the end"
    assert doc["grabs"].get("expired", 0) > 0, "no late grab raced a refund"
    assert len(doc["checks"]) == len(doc["faults"]) + 2
    assert "grabs acknowledged" in capsys.readouterr().out
    section = render(out)
    assert "| kill-redis@8s |" in section.markdown and section.figures[0].stat().st_size > 0


def _planted(tmp_path, store: str) -> dict:
    cfg = SoakConfig(
        store=f"python:tests.support.planted_stores:{store}",
        nemesis=parse_nemesis("pause-service@4s+2.5s"),
        load=LoadConfig(10.0, concurrency=16, count=10, expires_s=(1.5, 2.5)),
        out_dir=tmp_path,
    )
    return run_soak(cfg)


@pytest.mark.slow
@pytest.mark.parametrize(
    "store,needle",
    [
        ("PhantomAckStore", "missing from the ledger"),
        ("SilentRefundStore", "not refunded exactly once"),
        ("LosingCentStore", "conservation: "),
    ],
)
def test_the_checker_catches_a_planted_defect(tmp_path, store, needle):
    doc = _planted(tmp_path, store)
    assert doc["audit_ok"] is False
    assert any(needle in m for m in doc["failures"]), doc["failures"]
    assert doc["faults"][0]["check_ok"] is False, "the check after the fault's recovery missed it"


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--duration", "30", "--nemesis", "kill-redis@5s,kill-service@5.5s"], "starts before"),
        (["--duration", "30", "--nemesis", "kill-redis@29.8s"], "not undone within"),
        (["--duration", "30", "--nemesis", "freeze-redis@5s"], "pause-redis@10s"),
        (["--duration", "30", "--store", "redis://127.0.0.1:1/0", "--nemesis", "kill-redis@5s"], "only service faults"),
        (["--duration", "30", "--store", "memory", "--nemesis", "kill-service@5s"], "only pause-service"),
        (["--duration", "5"], "between 10 and 86400"),
    ],
)
def test_bad_schedules_are_refused_before_anything_starts(tmp_path, capsys, argv, words):
    assert main(["soak", *argv, "--out", str(tmp_path / "run")]) == Exit.UNUSABLE
    assert words in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
