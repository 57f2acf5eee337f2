"""Real, bounded Locust storms against the real service on 127.0.0.1 (memory, planted-defect and
Redis stores; single process and master + 2 workers). Each storm runs about 5 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hongbao.harness.cli import main
from hongbao.harness.report.sections.storm import render as render_storm
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.storm import scenario as scen
from hongbao.loadtests.storm.procs import LOCUSTFILE
from hongbao.loadtests.storm.run import StormConfig, run_storm
from tests.support.redis_server import redis_server

SMOKE = Path(__file__).resolve().parents[1] / "seeds" / "storms" / "smoke.toml"
pytestmark = [pytest.mark.storm, pytest.mark.timeout(120)]


def _storm(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "run"
    code = main(["storm", "--scenario", str(args[0]), "--out", str(out), "--no-progress", *args[1:]])
    return code, json.loads((out / "storm.json").read_text())


def _retry_scenario(tmp_path: Path) -> Path:
    """smoke, 4 s, with one grab in three resent as a client retry (same request_id)."""
    text = SMOKE.read_text().replace("duration_s = 5", "duration_s = 4")
    text = text.replace("hot_share = 0.5", "hot_share = 0.5\nretry_share = 0.3")
    path = tmp_path / "retry.toml"
    path.write_text(text)
    return path


def test_memory_storm_audits_clean_and_gates_on_a_sub_ms_slo(tmp_path):
    code, d = _storm(tmp_path, SMOKE, "--slo", "p99<1us", "--slo", "errors<1%")
    assert d["audit"]["ok"], d["audit"]["failures"]
    assert code == Exit.SLO_BREACH == d["exit"]["code"]
    assert [r["ok"] for r in d["slo"]] == [False, True]
    t = d["totals"]
    assert t["grabs_ok"] > 0 and t["failures"] == 0 and t["repeat"] == 0
    rec = d["audit"]["reconciliation"]
    # every grab Locust saw acknowledged is in the ledger, and Locust's own totals agree
    assert rec["acknowledged_grabs"] == rec["locust_grab_requests_ok"] == t["grabs_ok"]
    assert rec["ledger_grabs_this_run"] == t["grabs_ok"]
    # microsecond resolution: Locust's own table would print whole milliseconds
    grab = d["latency_ms"]["grab"]
    assert any(grab[k] != int(grab[k]) for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms"))
    assert d["timeline"] and d["cpu"]["roles"]["service"]["processes"] >= 1
    assert isinstance(d["load_generator_saturated"], bool)
    assert (tmp_path / "run" / "locust_stats.csv").is_file()
    section = render_storm(tmp_path / "run")
    assert "Post-storm audit: clean" in section.markdown and "**BREACHED**" in section.markdown
    assert len(section.figures) == 3 and all(p.stat().st_size > 0 for p in section.figures)


@pytest.mark.parametrize(
    "store,needle",
    [
        ("LosingCentStore", "conservation: "),
        ("DoubleGrabStore", "no double grab: "),
    ],
)
def test_planted_defect_fails_the_audit(tmp_path, store, needle, capsys):
    code, d = _storm(tmp_path, _retry_scenario(tmp_path), "--store", f"python:tests.support.planted_stores:{store}")
    assert code == Exit.AUDIT_FAILED
    assert d["audit"]["ok"] is False
    assert any(r.startswith(needle) for r in d["exit"]["reasons"]), d["exit"]["reasons"]
    assert needle.rstrip(": ") in capsys.readouterr().out
    if store == "LosingCentStore":
        assert "lost 1 cent(s)" in d["exit"]["reasons"][0]


@pytest.mark.slow
@pytest.mark.redis
def test_redis_storm_with_client_retries_audits_clean(tmp_path):
    with redis_server() as srv:
        code, d = _storm(tmp_path, _retry_scenario(tmp_path), "--store", srv.url)
        # the same storm without HTTP: Locust users run the store's grab script directly
        direct = tmp_path / "direct"
        code_direct = main(
            [
                "storm",
                "--scenario",
                str(_retry_scenario(tmp_path)),
                "--store",
                srv.url,
                "--redis-direct",
                "--out",
                str(direct),
                "--no-progress",
            ]
        )
        dd = json.loads((direct / "storm.json").read_text())
    assert code_direct == Exit.OK, dd["exit"]
    assert dd["redis_direct"] and dd["totals"]["grabs_ok"] > 0 and dd["totals"]["repeat"] > 0
    assert dd["audit"]["ok"] and dd["audit"]["reconciliation"]["acknowledged_grabs"] == dd["totals"]["grabs_ok"]
    assert code == Exit.OK, d["exit"]
    t = d["totals"]
    assert t["grabs_ok"] > 0 and t["repeat"] > 0  # retries answered with the first grab
    assert d["audit"]["ok"] and d["audit"]["grabs"] == t["grabs_ok"]
    assert d["cpu"]["roles"]["store"]["processes"] == 1  # redis-server found by its port


@pytest.mark.slow
def test_master_and_two_workers_aggregate_what_the_ledger_records(tmp_path):
    sc = scen.load(SMOKE).with_overrides(duration_s=6)
    outcome = run_storm(StormConfig(scenario=sc, out_dir=tmp_path / "dist", workers=2, progress=False))
    d = outcome.data
    assert outcome.exit == Exit.OK, outcome.reasons
    assert d["locust"]["connected_workers"] == 2 and d["locust"]["runner"] == "MasterRunner"
    rec = d["audit"]["reconciliation"]
    assert rec["locust_grab_requests_ok"] > 0
    assert rec["locust_grab_requests_ok"] == rec["acknowledged_grabs"] == rec["ledger_grabs_this_run"]
    users = d["audit"]["access_fairness"]["users"]
    assert users >= 2 and d["totals"]["repeat"] == 0  # ids unique across both workers
    ws = {u.split("-")[1] for u in json.loads((tmp_path / "dist" / "locust_extra.json").read_text())["attempts"]}
    assert ws == {"w0", "w1"}


def test_a_scenario_the_service_rejects_is_unusable_with_its_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SMOKE.read_text().replace('algorithm = "double_mean"', 'algorithm = "nope"'))
    code, d = _storm(tmp_path, bad)
    assert code == Exit.UNUSABLE
    assert "algorithm must be one of" in d["exit"]["reasons"][0]


def test_a_bare_locust_run_of_the_kits_locustfile_storms_in_the_open_model(tmp_path, memory_service):
    """`HONGBAO_SCENARIO=... locust -f loadtests/locustfile.py --headless --host URL`, no `hongbao`
    around it: the scenario's shape ends the run and Locust's own final statistics count every grab
    the kit recorded (its CSV is rewritten once a second, so it can miss the last second's)."""
    env = {
        **os.environ,
        scen.SCENARIO_ENV: str(SMOKE.with_name("steady.toml")),
        "HONGBAO_DURATION_S": "3",
        "HONGBAO_STORM_OUT": str(tmp_path),
    }
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", memory_service.base_url]
    cmd += ["--run-time", "30s", "--json", "--only-summary", "--loglevel", "WARNING"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    grabs = sum(e["num_requests"] for e in json.loads(proc.stdout) if e["name"].startswith("grab"))
    extra = json.loads((tmp_path / "locust_extra.json").read_text())
    assert extra["model"] == "open" and grabs > 0
    assert grabs == sum(
        n for sec in extra["timeline"].values() for name, (n, _) in sec.items() if name.startswith("grab")
    )
