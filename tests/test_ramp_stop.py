"""Saturation search stops loading once a ramp step breaks the SLO (loadtests/storm/ramp_stop.py)."""

from __future__ import annotations

from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.ramp_stop import RampStop
from hongbao.loadtests.storm.recording import Recording

T0 = 1000.0
PARAMS = {"step_s": 4, "start_users": 5, "step_users": 5, "stop_p99_ms": 20, "stop_error_ratio": 0.01}


def _second(recording: Recording, sec: int, latency_ms: float, n: int, failures: int = 0) -> None:
    recording.timeline.setdefault(sec, {})["grab"] = [n, failures]
    hist = recording.grab_hist.setdefault(sec, Histogram())
    for _ in range(n):
        hist.record(latency_ms)


def test_a_step_within_the_slo_keeps_the_ramp_going():
    rec, stop = Recording(), RampStop("ramp", PARAMS)
    for sec in range(1001, 1004):
        _second(rec, sec, 5.0, 100)
    assert not stop.breached(rec, T0, 4.5)
    assert stop.stopped is None


def test_the_first_step_over_the_p99_slo_stops_the_ramp():
    rec, stop = Recording(), RampStop("ramp", PARAMS)
    for sec in range(1001, 1004):
        _second(rec, sec, 5.0, 100)
    for sec in range(1005, 1008):
        _second(rec, sec, 35.0, 100)
    assert not stop.breached(rec, T0, 4.5)
    assert stop.breached(rec, T0, 8.5)
    assert stop.stopped["after_step"] == 1 and stop.stopped["p99_ms"] > 20
    assert "p99" in stop.stopped["reason"]
    assert stop.breached(rec, T0, 9.0), "once stopped, stays stopped"


def test_errors_over_budget_stop_the_ramp():
    rec, stop = Recording(), RampStop("ramp", PARAMS)
    for sec in range(1001, 1004):
        _second(rec, sec, 1.0, 100, failures=5)
    assert stop.breached(rec, T0, 4.2)
    assert "errors 5.00% > 1.00%" in stop.stopped["reason"]


def test_without_limits_or_for_other_shapes_nothing_stops():
    rec = Recording()
    for sec in range(1001, 1004):
        _second(rec, sec, 500.0, 100, failures=50)
    assert not RampStop("ramp", {"step_s": 4}).breached(rec, T0, 4.5)
    assert not RampStop("countdown", PARAMS).breached(rec, T0, 4.5)
