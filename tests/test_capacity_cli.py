"""``hongbao capacity`` end to end: a real (short) step ramp, then the projection recomputed by hand
from the run's own capacity.json; re-projection with --from; bad flags -> exit 2 naming the flag."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hongbao.harness.capacity.saturation import breach
from hongbao.harness.cli import main
from hongbao.harness.report.sections import capacity as capacity_section


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("capacity")
    code = main(
        [
            "capacity",
            "--preset",
            "wechat-2017",
            "--steps",
            "2",
            "--step-seconds",
            "3",
            "--start-rate",
            "100",
            "--step-rate",
            "200",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def _row(doc: dict, quantity: str):
    return next(r["value"] for r in doc["projection"] if r["quantity"] == quantity)


@pytest.mark.slow
@pytest.mark.storm
def test_projection_follows_from_the_runs_own_measurements(run_dir):
    doc = json.loads((run_dir / "capacity.json").read_text())
    ramp = next(r for r in doc["ramps"] if r["label"] == doc["projection_ramp"])
    slo, budget = doc["slo"]["p99_ms"], doc["slo"]["error_budget"]
    # the knee: the highest offered rate before the first step that breaks the SLO (p99 from the
    # intended start), the error budget or drops 0.1% of its offered grabs, recomputed here
    assert ramp["model"] == "open" and [s["offered_per_second"] for s in ramp["steps"]] == [100, 300]
    sustainable = []
    for step in ramp["steps"]:
        if (
            step["p99_ms"] > slo
            or step["failures"] > budget * step["requests"]
            or step["dropped"] >= 0.001 * step["offered"]
        ):
            break
        sustainable.append(step)
    knee = max(sustainable, key=lambda s: s["offered_per_second"])
    assert ramp["knee"]["offered_per_second"] == knee["offered_per_second"]
    assert ramp["knee"]["grabs_per_second"] == knee["grabs_per_second"] == knee["answered_per_second"]
    assert knee["offered"] > 0 and knee["dropped"] == ramp["knee"]["dropped"]
    assert knee["requests"] > 0 and knee["p99_ms"] > 0
    # service cores: target / (1 - headroom) / (knee grabs/s per busy service core)
    busy = knee["cpu_cores"]["service"]
    per_core = knee["grabs_per_second"] / busy if busy >= 0.05 else knee["grabs_per_second"] / ramp["service_workers"]
    need = doc["target"]["grabs_per_second"] / (1 - doc["headroom"])
    assert doc["target"]["grabs_per_second"] == 760_000
    assert _row(doc, "service cores") == math.ceil(need / per_core)
    assert _row(doc, "service instances") == math.ceil(math.ceil(need / per_core) / 16)
    kernel = doc["measurements"]["kernel"]["shares_per_second"]
    assert _row(doc, "split-kernel cores") == pytest.approx(need / kernel)
    per_envelope = doc["measurements"]["memory_store"]["bytes_per_envelope_grabbed"]
    assert _row(doc, "memory store: memory per million open envelopes") == pytest.approx(per_envelope * 1e6 / 2**20)
    open_envelopes = 760_000 / 10 * 60
    assert _row(doc, "memory store: memory at the peak") == pytest.approx(per_envelope * open_envelopes / 0.7 / 2**30)
    assert not any(r["quantity"] == "Redis shards" for r in doc["projection"])  # not measured: not guessed
    assert any("Redis not measured" in n for n in doc["notes"])


@pytest.mark.slow
@pytest.mark.storm
def test_the_run_folder_has_the_report_and_the_plot(run_dir):
    assert (run_dir / "capacity_latency.png").stat().st_size > 10_000
    section = capacity_section.render(run_dir)
    assert section is not None and section.figures == [run_dir / "capacity_latency.png"]
    for text in ("Saturation search", "knee: offered grabs/s", "Projection", "Assumptions", "service cores", "760,000"):
        assert text in section.markdown
    assert "Projection" in (run_dir / "report.md").read_text()
    assert "data:image/png;base64," in (run_dir / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.storm
def test_from_reprojects_another_target_without_measuring(run_dir, tmp_path):
    code = main(
        [
            "capacity",
            "--from",
            str(run_dir),
            "--preset",
            "alipay-2017",
            "--headroom",
            "50%",
            "--out",
            str(tmp_path),
            "--no-report",
        ]
    )
    assert code == 0
    old = json.loads((run_dir / "capacity.json").read_text())
    new = json.loads((tmp_path / "capacity.json").read_text())
    assert not (tmp_path / "capacity-work").exists()  # nothing was measured again
    assert new["ramps"][0]["steps"] == old["ramps"][0]["steps"]
    assert new["inputs"]["service_grabs_per_core"] == old["inputs"]["service_grabs_per_core"]
    assert _row(new, "service cores") == math.ceil(256_000 / 0.5 / new["inputs"]["service_grabs_per_core"])


def test_every_ramp_step_breach_names_the_limit():
    from hongbao.harness.capacity.saturation import RampStep

    step = RampStep(users=5, duration_s=1, requests=100, failures=0, grabs_per_second=100, p50_ms=1, p99_ms=250)
    assert "p99 250.0 ms > SLO 200 ms at 5 users" in breach(step, 200, 0.001)
    offered = dict(
        users=0,
        duration_s=4,
        requests=4000,
        failures=0,
        grabs_per_second=1000,
        p50_ms=1,
        p99_ms=5,
        offered_per_second=1000,
        offered=4000,
    )
    assert breach(RampStep(**offered, dropped=3), 200, 0.001) is None  # 0.075% dropped
    assert (
        breach(RampStep(**offered, dropped=4), 200, 0.001) == "dropped 4 grabs (0.10% >= 0.1%) at 1,000 offered grabs/s"
    )


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--target", "fast"], "--target"),
        (["--target", "0/s"], "--target"),
        (["--p99", "200"], "--p99"),
        (["--headroom", "120%"], "--headroom"),
        (["--errors", "lots"], "--errors"),
        (["--preset", "wechat-1999"], "--preset"),
        (["--workers", "2"], "--workers"),
        (["--workers", "one"], "--workers"),
        (["--store", "mysql://x"], "--store"),
        (["--steps", "0"], "--steps"),
        (["--step-seconds", "2"], "--step-seconds"),
        (["--from", "/nonexistent/run"], "--from"),
        (["--host", "http://192.0.2.1:8000"], "--allow-remote-target"),
        (["--host", "http://127.0.0.1:1", "--store", "memory"], "--host"),
        (["--adapter", "hongbao.loadtests.examples.yuan_adapter:YuanAdapter"], "--adapter needs --host"),
        (["--master"], "--expect-workers"),
        (["--expect-workers", "2"], "--master"),
        (["--master", "--expect-workers", "2", "--bind", "127.0.0.1:99999"], "--bind"),
        (["--master", "--expect-workers", "2", "--bind", "10.0.0.5:5557"], "give --host URL"),
        (["--master", "--expect-workers", "2", "--processes", "2"], "no --processes"),
        (["--start-rate", "0"], "--start-rate"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(argv, flag, capsys, tmp_path):
    assert main(["capacity", *argv, "--out", str(tmp_path / "out")]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written for a rejected request


def test_target_and_preset_together_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["capacity", "--target", "1k/s", "--preset", "wechat-2017"])
    assert exc.value.code == 2 and "--preset" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.storm
@pytest.mark.redis
def test_redis_run_projects_shards_from_the_measured_script_rate(tmp_path):
    from tests.support.redis_server import redis_server

    with redis_server() as srv:
        code = main(
            [
                "capacity",
                "--store",
                srv.url,
                "--workers",
                "2",
                "--steps",
                "2",
                "--step-seconds",
                "3",
                "--start-rate",
                "100",
                "--step-rate",
                "200",
                "--target",
                "1.2M/s",
                "--out",
                str(tmp_path),
                "--no-report",
            ]
        )
    assert code == 0
    doc = json.loads((tmp_path / "capacity.json").read_text())
    assert [(r["store"], r["service_workers"]) for r in doc["ramps"]] == [("redis", 2)]
    assert doc["ramps"][0]["audit_ok"] is True
    redis_fig = doc["measurements"]["redis"]
    per_core = redis_fig["grabs"] / redis_fig["redis_cpu_seconds"]
    assert _row(doc, "Redis shards") == math.ceil(1_200_000 / 0.7 / per_core)
    assert _row(doc, "redis store: memory per million open envelopes") == pytest.approx(
        redis_fig["bytes_per_envelope_grabbed"] * 1e6 / 2**20
    )
    assert doc["ramps"][0]["steps"][0]["cores"].get("store") == 1.0  # the redis-server's CPU was sampled


@pytest.mark.slow
@pytest.mark.storm
def test_from_a_step_ramp_storm_folder(tmp_path):
    """`hongbao storm` with the ramp scenario, then `hongbao capacity --from` that folder: the knee comes
    from the storm's own per-second figures, nothing is stormed again."""
    storm_dir = tmp_path / "storm"
    scenario = Path(__file__).resolve().parents[1] / "seeds" / "storms" / "ramp.toml"
    assert (
        main(["storm", "--scenario", str(scenario), "--duration", "10s", "--out", str(storm_dir), "--no-progress"]) == 0
    )
    assert main(["capacity", "--from", str(storm_dir), "--out", str(tmp_path / "cap"), "--no-report"]) == 0
    doc = json.loads((tmp_path / "cap" / "capacity.json").read_text())
    assert not (tmp_path / "cap" / "capacity-work").exists()
    (ramp,) = doc["ramps"]
    assert ramp["storm_json"] == str(storm_dir / "storm.json") and len(ramp["steps"]) == 2
    assert [s["offered_per_second"] for s in ramp["steps"]] == [200, 600]  # ramp.toml: 200 + 400/step
    assert ramp["knee"]["offered_per_second"] == ramp["steps"][ramp["knee"]["step_index"]]["offered_per_second"]
