"""The open model against a real service process with real Locust: a 1 s stall of the service
(SIGSTOP/SIGCONT of its PID, a process this test started) must show in the p99 measured from each
grab's intended start; the closed model's p99 of the same stall is printed beside it. Plus the
open model in two Locust processes: the schedule is split, not doubled, and the HdrHistogram logs
hold exactly the kit's merged histograms."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.storm import procs, results
from hongbao.loadtests.storm import scenario as scen
from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.run import StormConfig, run_storm

pytestmark = [pytest.mark.storm, pytest.mark.timeout(180)]
STALL_S = 1.0

BASE = {
    "seed": 5,
    "duration_s": 5,
    "envelopes": {"hot_envelopes": 2, "hot_total_cents": 1_000_000, "hot_count": 20_000},
    "users": {"senders": 1, "sender_interval_s": 0.5, "hot_share": 1.0},
}


def _scenario(tmp_path: Path, name: str, load: dict, shape: dict, **top) -> scen.Scenario:
    path = tmp_path / f"{name}.toml"
    path.write_text(scen.to_toml({"name": name, **BASE, **top, "load": load, "shape": shape}))
    return scen.load(path)


def _stall_when_started(out: Path, pid: int, after_s: float, done: list) -> None:
    """SIGSTOP the service ``after_s`` into the storm (read from progress.json), SIGCONT it 1 s later."""
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            started = json.loads((out / "progress.json").read_text()).get("started_at")
        except (OSError, ValueError):
            started = None
        if started:
            time.sleep(max(0.0, started + after_s - time.time()))
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(STALL_S)
            finally:
                os.kill(pid, signal.SIGCONT)
            done.append(True)
            return
        time.sleep(0.05)


def _stalled_storm(tmp_path: Path, sc: scen.Scenario) -> dict:
    out = tmp_path / sc.name
    out.mkdir()
    service, host = procs.start_service("memory", 1, out / "service.log")
    done: list = []
    try:
        stall = threading.Thread(target=_stall_when_started, args=(out, service.pid, 2.0, done), daemon=True)
        stall.start()
        outcome = run_storm(StormConfig(scenario=sc, out_dir=out, host=host, progress=False))
        stall.join(timeout=10)
    finally:
        os.kill(service.pid, signal.SIGCONT)
        procs.stop(service)
    assert done, "the stall never happened"
    assert outcome.exit == Exit.OK, outcome.reasons
    return outcome.data


@pytest.mark.slow
def test_a_service_stall_shows_in_the_open_models_p99_from_intended_start(tmp_path):
    open_sc = _scenario(
        tmp_path,
        "open",
        {"model": "open", "pre_allocated_users": 10, "max_users": 600, "tolerance_ms": 50},
        {"kind": "steady", "rate": 200},
    )
    # a pool that cannot grow: the grabs meant to start during the stall go out after it (the
    # tolerance is wide), so only the latency from the intended start can show the stall
    fixed_sc = _scenario(
        tmp_path,
        "fixed",
        {"model": "open", "pre_allocated_users": 10, "max_users": 10, "tolerance_ms": 5000},
        {"kind": "steady", "rate": 200},
    )
    closed_sc = _scenario(tmp_path, "closed", {"model": "closed"}, {"kind": "steady", "users": 11})
    o, f, c = (_stalled_storm(tmp_path, sc) for sc in (open_sc, fixed_sc, closed_sc))
    open_p99, closed_p99 = o["grab_p99_ms"], c["grab_p99_ms"]
    print(
        f"\n1 s stall: open-model p99 from intended start {open_p99:.1f} ms "
        f"(service time p99 {o['service_time_ms']['p99_ms']:.1f} ms); closed-model p99 {closed_p99:.1f} ms; "
        f"open model with a fixed pool of 10: p95 from intended start {f['latency_ms']['grab']['p95_ms']} ms, "
        f"service time p95 {f['service_time_ms']['p95_ms']} ms, sent p95 {f['send_lateness_ms']['p95_ms']} ms late"
    )
    # a grab is sent within the tolerance of its intended start or not at all (then it is dropped)
    assert o["send_lateness_ms"]["max_ms"] <= open_sc.tolerance_ms + 5
    # the fixed pool sent the stalled grabs late, and says so: lateness + service time = latency
    assert f["send_lateness_ms"]["p95_ms"] >= 0.25 * STALL_S * 1000
    assert c["send_lateness_ms"] is None  # the closed model has no intended start
    assert f["latency_ms"]["grab (all outcomes)"]["p95_ms"] >= 0.25 * STALL_S * 1000
    assert f["service_time_ms"]["p95_ms"] < 0.1 * STALL_S * 1000  # what a closed-loop clock reads
    # about a fifth of the open model's grabs were meant to start during the stall: they waited for it
    assert open_p99 >= 0.5 * STALL_S * 1000
    lm = o["load_model"]
    assert lm["open"] and lm["offered_grabs"] == 200 * 5
    assert lm["dropped_grabs"] <= 0.05 * lm["offered_grabs"]  # the pool grew instead of dropping
    assert lm["generator_gc_longest_pause_ms"] > 0  # the generator's collector was watched
    hist = o["latency_ms"]["grab (all outcomes)"]
    assert (
        hist["max_ms"] >= 0.8 * STALL_S * 1000
        and hist["count"] + lm["dropped_grabs"] + lm["arrivals_with_nothing_to_grab"] >= 0.95 * lm["offered_grabs"]
    )


@pytest.mark.parametrize(
    "how", [{"processes": 2}, pytest.param({"workers": 2}, marks=pytest.mark.slow)], ids=["processes", "master-workers"]
)
def test_open_model_in_two_processes_splits_the_schedule(tmp_path, how):
    sc = _scenario(
        tmp_path,
        "split",
        {"model": "open", "pre_allocated_users": 4, "max_users": 100, "tolerance_ms": 200},
        {"kind": "steady", "rate": 150},
        duration_s=4,
    )
    outcome = run_storm(StormConfig(scenario=sc, out_dir=tmp_path / "run", progress=False, **how))
    assert outcome.exit == Exit.OK, outcome.reasons
    d = outcome.data
    lm = d["load_model"]
    grabs = d["latency_ms"]["grab (all outcomes)"]["count"]
    sent_or_not = grabs + lm["dropped_grabs"] + lm["arrivals_with_nothing_to_grab"]
    assert lm["offered_grabs"] == 600 and 0.9 * 600 <= sent_or_not <= 600
    extra = json.loads((tmp_path / "run" / "locust_extra.json").read_text())
    assert len(extra["pool_peak"]) == 2  # both worker processes ran a share
    # the HdrHistogram logs hold exactly the kit's merged histograms
    kit_latency = results.grab_histogram(extra)
    kit_service = Histogram.from_json(extra["service"])
    for name, kit in (("latency", kit_latency), ("service_time", kit_service)):
        decoded = _read_hlog(tmp_path / "run" / d["hdr"]["files"][name])
        assert decoded.get_total_count() == kit.total > 0
        assert all(decoded.get_count_at_value(max(v, 1)) == n for v, n in kit.counts.items() if v > 0)
        back = Histogram(
            {
                decoded.get_lowest_equivalent_value(i.value_iterated_to): i.count_at_value_iterated_to
                for i in decoded.get_recorded_iterator()
            }
        )
        for q in (50, 90, 99, 100):
            assert decoded.values_are_equivalent(back.percentile_us(q), max(kit.percentile_us(q), 1)), (name, q)
    assert d["latency_ms"]["grab (all outcomes)"]["count"] == kit_latency.total


def _read_hlog(path: Path) -> HdrHistogram:
    """Every interval of an HdrHistogram log, added up (with the hdrhistogram package's reader)."""
    reader = HistogramLogReader(str(path), HdrHistogram(1, 3_600_000_000, 3))
    total = HdrHistogram(1, 3_600_000_000, 3)
    while (h := reader.get_next_interval_histogram()) is not None:
        total.add(h)
    reader.close()
    return total
