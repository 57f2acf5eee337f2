"""Storms through an adapter: the example service (other paths and field names, yuan strings, a
bearer token, errors as HTTP 200 + code) started as a real process on loopback, stormed by real
Locust through hongbao.loadtests.examples.yuan_adapter, with and without its ledger export, clean
and with planted bugs. Plus the client-side audit and the target rules on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hongbao.harness.cli import main
from hongbao.harness.report.sections.storm import markdown
from hongbao.loadtests.adapters import BaseAdapter, load_adapter
from hongbao.loadtests.adapters.reference import ReferenceAdapter
from hongbao.loadtests.audit_client import audit_grants
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.storm.target import check_target, is_loopback
from tests.support.yuan_proc import yuan_service

ADAPTER = "hongbao.loadtests.examples.yuan_adapter:YuanAdapter"
SMOKE = Path(__file__).resolve().parents[1] / "seeds" / "storms" / "smoke.toml"


def _scenario(tmp_path: Path) -> Path:
    """smoke, 4 s, with one grab in three resent at once as a client retry (same request id)."""
    text = SMOKE.read_text().replace("duration_s = 5", "duration_s = 4")
    path = tmp_path / "retry.toml"
    path.write_text(text.replace("hot_share = 0.5", "hot_share = 0.5\nretry_share = 0.3\nretry_after_ms = 0"))
    return path


def _storm(tmp_path: Path, url: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "run"
    code = main(
        [
            "storm",
            "--scenario",
            str(_scenario(tmp_path)),
            "--host",
            url,
            "--adapter",
            ADAPTER,
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )
    return code, json.loads((out / "storm.json").read_text())


@pytest.mark.slow
@pytest.mark.storm
@pytest.mark.timeout(120)
@pytest.mark.parametrize("export", [True, False], ids=["ledger-export", "client-side"])
def test_example_service_stormed_through_its_adapter_audits_clean(tmp_path, export):
    args = () if export else ("--no-export",)
    with yuan_service(*args, host="127.0.0.2") as url:
        code, d = _storm(tmp_path, url, "--metrics", url + "/metrics")
    assert code == Exit.OK, d["exit"]
    t, audit = d["totals"], d["audit"]
    assert t["grabs_ok"] > 50 and t["failures"] == 0 and t["repeat"] > 0 and t["sold_out"] > 0
    assert audit["ok"] and audit["grabs"] == t["grabs_ok"]
    # Locust's own events saw every request the adapter made, under the storm's outcome names
    final = d["locust_final_totals"]
    assert final["grab"][0] == t["grabs_ok"] and final["grab repeat"][0] == t["repeat"]
    assert final["grab sold_out"][0] == t["sold_out"]
    assert d["timeline"] and d["latency_ms"]["grab"]["count"] == t["grabs_ok"]
    assert d["target"] == {
        "url": url,
        "loopback": True,
        "started_by_kit": False,
        "adapter": ADAPTER,
        "metrics": [url + "/metrics"],
        "service_cpu_from": f"prometheus {url}/metrics",
    }
    assert d["cpu"]["roles"]["service"]["mean_percent"] > 0  # read from process_cpu_seconds_total
    if export:
        assert audit["source"] == "ledger export" and "conservation" in audit["checks_ran"]
        assert audit["reconciliation"]["acknowledged_grabs"] == t["grabs_ok"]
    else:
        assert audit["source"].startswith("client side") and "conservation" not in audit["checks_ran"]
        assert {c["check"] for c in audit["checks_not_run"]} >= {"conservation", "acknowledged grabs are in the ledger"}
        assert not (tmp_path / "run" / "ledger.json").exists()
    report = markdown(d)
    assert f"through the adapter `{ADAPTER}`" in report and f"from the {audit['source']}" in report
    assert ("- not checked: conservation" in report) is not export


@pytest.mark.storm
@pytest.mark.timeout(120)
@pytest.mark.parametrize("export", [True, False], ids=["ledger-export", "client-side"])
@pytest.mark.parametrize(
    "bug,ledger_check,client_check",
    [
        ("double-pay", "no double grab", "no user granted twice in one envelope"),
        ("lost-cent", "conservation", "a fully granted envelope paid exactly its total"),
    ],
)
def test_planted_bugs_are_caught_through_the_adapter(tmp_path, bug, ledger_check, client_check, export):
    args = ("--bug", bug) + (() if export else ("--no-export",))
    with yuan_service(*args) as url:
        code, d = _storm(tmp_path, url)
    assert code == Exit.AUDIT_FAILED == d["exit"]["code"]
    failed = {c["name"] for c in d["audit"]["checks"] if not c["ok"]}
    assert (ledger_check if export else client_check) in failed, d["audit"]["failures"]


def test_client_side_audit_names_each_violation():
    envelopes = {"A": [100, 2, 1], "B": [50, 5, 5], "C": [30, 3, 1]}
    clean = audit_grants([["A", "u1", 60], ["A", "u2", 40], ["B", "u1", 5], ["C", "u1", 10]], envelopes)
    assert clean.ok and clean.source.startswith("client side") and clean.not_run
    bad = audit_grants(
        [
            ["A", "u1", 60],
            ["A", "u1", 50],
            ["A", "u3", 1],
            ["B", "u1", 4],
            ["C", "u1", 10],
            ["C", "u2", 10],
            ["C", "u3", 9],
        ],
        envelopes,
    )
    msgs = "\n".join(bad.messages())
    assert not bad.ok
    assert "user 'u1' granted 2 times" in msgs and "3 grants > count 2" in msgs
    assert "granted 111 cents > total 100" in msgs and "4 cents < min 5" in msgs
    assert "3 grants paid 29 cents of 30 (lost 1 cent(s))" in msgs


def test_loopback_and_remote_targets():
    for url in ("http://127.0.0.1:8000", "http://127.0.0.2:9", "http://localhost", "http://[::1]:80"):
        assert is_loopback(url) and check_target(url, allow_remote=False) == url
    for url in ("http://10.0.0.1:8000", "https://grab.example.com/", "http://128.0.0.1"):
        assert not is_loopback(url)
        with pytest.raises(ValueError, match="--allow-remote-target"):
            check_target(url, allow_remote=False)
        assert check_target(url, allow_remote=True) == url.rstrip("/")
    for bad in ("127.0.0.1:8000", "ftp://127.0.0.1", "http://"):
        with pytest.raises(ValueError, match="http:// or https://"):
            check_target(bad, allow_remote=True)


def test_storm_refuses_a_remote_target_and_an_adapter_without_host(tmp_path, capsys):
    base = ["storm", "--scenario", str(SMOKE), "--out", str(tmp_path / "x"), "--no-progress"]
    assert main(base + ["--host", "http://192.0.2.1:8000"]) == Exit.UNUSABLE
    assert "--allow-remote-target" in capsys.readouterr().err
    assert main(base + ["--adapter", ADAPTER]) == Exit.UNUSABLE
    assert "--adapter needs --host" in capsys.readouterr().err
    assert main(base + ["--host", "http://127.0.0.1:1", "--metrics", "http://192.0.2.1/metrics"]) == Exit.UNUSABLE
    assert "--metrics" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_load_adapter():
    assert isinstance(load_adapter(None), ReferenceAdapter) and isinstance(load_adapter(ADAPTER), BaseAdapter)
    for spec, needle in (
        ("nomodule", "module:Class"),
        ("no.such.module:X", "cannot load"),
        ("hongbao.loadtests.audit:audit_ledger", "subclass"),
    ):
        with pytest.raises(ValueError, match=needle):
            load_adapter(spec)


@pytest.mark.slow
@pytest.mark.storm
@pytest.mark.timeout(240)
def test_capacity_of_a_separate_service_through_its_adapter_and_metrics(tmp_path):
    """The example service as its own process: the kit did not start it, so the service's CPU per
    grab comes from its /metrics (process_cpu_seconds_total), and the projection rests on it."""
    with yuan_service(host="127.0.0.3") as url:
        code = main(
            [
                "capacity",
                "--host",
                url,
                "--adapter",
                ADAPTER,
                "--metrics",
                url + "/metrics",
                "--steps",
                "2",
                "--step-seconds",
                "3",
                "--out",
                str(tmp_path / "cap"),
                "--no-report",
            ]
        )
    assert code == Exit.OK
    doc = json.loads((tmp_path / "cap" / "capacity.json").read_text())
    assert doc["service_target"]["url"] == url and doc["service_target"]["metrics"] == [url + "/metrics"]
    ramp = doc["ramps"][0]
    assert ramp["store"] == "target" and ramp["audit_ok"] is True
    knee = ramp["steps"][ramp["knee"]["step_index"]]
    assert knee["cpu_cores"]["service"] > 0
    assert "µs)" in doc["inputs"]["service_basis"] and "CPU cores busy" in doc["inputs"]["service_basis"]
    expected = knee["grabs_per_second"] / knee["cpu_cores"]["service"]
    assert doc["inputs"]["service_grabs_per_core"] == pytest.approx(expected)


@pytest.mark.storm
@pytest.mark.timeout(120)
def test_envelopes_prepared_by_the_user_are_stormed_by_id(tmp_path, monkeypatch):
    """A service without a create call: the adapter hands out ids the user prepared; no create
    request is timed, and the ledger audit covers the prepared envelopes."""
    from hongbao.loadtests.adapters import NewEnvelope
    from hongbao.loadtests.adapters.http import BlockingHttp
    from hongbao.loadtests.examples.yuan_adapter import YuanAdapter

    scenario = tmp_path / "prepared.toml"
    scenario.write_text(
        SMOKE.read_text()
        .replace("duration_s = 5", "duration_s = 3")
        .replace("senders = 2", "senders = 1")
        .replace("sender_interval_s = 0.1", "sender_interval_s = 0.2")
    )
    with yuan_service() as url:
        http, adapter = BlockingHttp(url), YuanAdapter()
        sizes = [(10_000, 20)] + [(888, 8), (666, 6)] * 20
        ids = [f"{t}:{c}:{adapter.create_envelope(http, NewEnvelope('prep', t, c))}" for t, c in sizes]
        monkeypatch.setenv("PREPARED_ENVELOPES", ",".join(ids))
        out = tmp_path / "run"
        code = main(
            [
                "storm",
                "--scenario",
                str(scenario),
                "--host",
                url,
                "--adapter",
                "tests.support.prepared_adapter:PreparedYuanAdapter",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
    d = json.loads((out / "storm.json").read_text())
    assert code == Exit.OK, d["exit"]
    assert d["totals"]["by_name"]["create envelope"]["requests"] == 0  # nothing created during the storm
    assert d["totals"]["grabs_ok"] > 0 and d["audit"]["ok"] and d["audit"]["envelopes"] == len(sizes)
