"""GET /metrics of the reference service (hongbao serve, a real process on loopback): grabs by
outcome, the grab latency histogram and process_cpu_seconds_total, which --metrics reads."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hongbao.harness.cli import main
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.monitor import prometheus_cpu_seconds
from hongbao.loadtests.service.metrics import outcome
from tests.support.service_proc import service_process
from tests.test_adapters import SMOKE


def _post(url: str, body: dict) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def _samples(url: str) -> dict:
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_metrics_count_grabs_by_outcome_and_export_process_cpu():
    with service_process("memory") as svc:
        url = svc.base_url
        req = urllib.request.Request(
            url + "/envelopes",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps(
                {"sender": "s", "total_cents": 300, "count": 2, "algorithm": "double_mean", "mode": "pre_split"}
            ).encode(),
        )
        eid = json.loads(urllib.request.urlopen(req, timeout=5).read())["id"]
        codes = [
            _post(f"{url}/envelopes/{eid}/grab", {"user": u, "request_id": r})
            for u, r in (("a", "1"), ("a", "2"), ("b", "3"), ("c", "4"))
        ]
        assert codes == [200, 200, 200, 409]
        assert _post(f"{url}/envelopes/999999/grab", {"user": "a", "request_id": "5"}) == 404
        m = _samples(url)
        cpu = prometheus_cpu_seconds(url + "/metrics")
    got = {k[1][0][1]: v for k, v in m.items() if k[0] == "hongbao_grabs_total"}
    assert got == {"granted": 2, "repeat": 1, "sold_out": 1, "expired": 0, "rejected": 1, "error": 0}
    assert m[("hongbao_grab_seconds_count", ())] == 5
    assert cpu > 0 and m[("process_cpu_seconds_total", ())] > 0


def test_outcome_labels():
    assert outcome(200, b'{"repeat":false}') == "granted" and outcome(200, b'{"repeat":true}') == "repeat"
    assert [outcome(s, b"") for s in (409, 410, 422, 503)] == ["sold_out", "expired", "rejected", "error"]


@pytest.mark.storm
@pytest.mark.timeout(120)
def test_storm_reads_a_running_reference_service_cpu_from_its_metrics(tmp_path):
    with service_process("memory") as svc:
        out = tmp_path / "run"
        code = main(
            [
                "storm",
                "--scenario",
                str(SMOKE),
                "--host",
                svc.base_url,
                "--metrics",
                svc.base_url + "/metrics",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        grabs = _samples(svc.base_url)
    d = json.loads((out / "storm.json").read_text())
    assert code == Exit.OK and d["target"]["service_cpu_from"].startswith("prometheus")
    assert d["cpu"]["roles"]["service"]["mean_percent"] > 0
    counted = {k[1][0][1]: v for k, v in grabs.items() if k[0] == "hongbao_grabs_total"}
    assert counted["granted"] == d["totals"]["grabs_ok"] and counted["sold_out"] == d["totals"]["sold_out"]
