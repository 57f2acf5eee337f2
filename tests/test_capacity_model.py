"""Capacity planning, the pure parts: target parsing, presets, knee finding, projection arithmetic."""

from __future__ import annotations

import math

import pytest

from hongbao.harness.capacity import model, presets
from hongbao.harness.capacity.saturation import RampStep, find_knee

# --- targets, presets and flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, rate",
    [
        ("760000/s", 760_000),
        ("760k/s", 760_000),
        ("760K/s", 760_000),
        ("1.2M/s", 1_200_000),
        ("409_000", 409_000),
        ("85.9k/s", 85_900),
        ("256,000/s", 256_000),
        ("120000 / sec", 120_000),
    ],
)
def test_parse_rate_accepts_the_documented_forms(text, rate):
    assert presets.parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["", "fast", "0/s", "-5/s", "760x/s", "760k/min", "k/s"])
def test_parse_rate_rejects_and_names_the_flag(text):
    with pytest.raises(ValueError, match="^--target"):
        presets.parse_rate(text)


@pytest.mark.parametrize("text, ms", [("200ms", 200), ("0.2s", 200), ("500us", 0.5), ("50 ms", 50)])
def test_parse_p99(text, ms):
    assert presets.parse_duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["200", "0ms", "fast", "-1ms", "2h"])
def test_parse_p99_rejects_and_names_the_flag(text):
    with pytest.raises(ValueError, match="^--p99"):
        presets.parse_duration_ms(text)


@pytest.mark.parametrize("text, value", [("30%", 0.30), ("0.3", 0.30), ("0%", 0.0), ("0", 0.0)])
def test_parse_headroom(text, value):
    assert presets.parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["30", "95%", "-5%", "lots", "1.5"])
def test_parse_headroom_rejects_and_names_the_flag(text):
    with pytest.raises(ValueError, match="^--headroom"):
        presets.parse_fraction(text)


@pytest.mark.parametrize(
    "name, rate",
    [
        ("wechat-2016", 409_000),
        ("wechat-2017", 760_000),
        ("alipay-2015", 85_900),
        ("alipay-2016", 120_000),
        ("alipay-2017", 256_000),
    ],
)
def test_presets_hold_the_published_peaks_with_sources(name, rate):
    target = presets.load_preset(name)
    assert target.grabs_per_second == rate
    assert target.source and target.assumptions
    assert f"{rate:,}" in target.source  # the source text states the figure it gives


def test_unknown_preset_names_the_flag_and_the_known_ones():
    with pytest.raises(ValueError, match=r"^--preset: no preset 'wechat-1999'.*wechat-2017"):
        presets.load_preset("wechat-1999")


def test_target_and_preset_together_are_refused():
    with pytest.raises(ValueError, match="^--target"):
        presets.resolve_target("1k/s", "wechat-2017")


def test_default_target_is_wechat_2017():
    assert presets.resolve_target(None, None).grabs_per_second == 760_000


# --- knee finding ---------------------------------------------------------------------------------


def _step(users, rps, p99, *, fail=0, lg=0.3, svc=0.3, store=None):
    cpu = {"load_generator": lg, "service": svc}
    cores = {"load_generator": 1, "service": 1}
    if store is not None:
        cpu["store"], cores["store"] = store, 1
    return RampStep(
        users=users,
        duration_s=5,
        requests=int(rps * 5),
        failures=fail,
        grabs_per_second=rps,
        p50_ms=p99 / 4,
        p99_ms=p99,
        cpu_cores=cpu,
        cores=cores,
    )


def test_knee_is_the_best_step_before_the_slo_breaks_and_names_the_service():
    steps = [
        _step(10, 1000, 5, svc=0.4),
        _step(20, 1900, 8, svc=0.8),
        _step(40, 2000, 90, svc=0.97),
        _step(80, 2050, 400, svc=0.99),
    ]
    knee = find_knee(steps, p99_slo_ms=100, error_budget=0.001)
    assert knee.grabs_per_second == 2000 and knee.step_index == 2
    assert "p99 400.0 ms > SLO 100 ms" in knee.stop_reason
    assert knee.limiting == "service" and not knee.lower_bound


def test_a_saturated_load_generator_makes_the_knee_a_lower_bound_with_advice():
    steps = [_step(10, 3000, 3, lg=0.6), _step(20, 5000, 6, lg=0.95), _step(40, 5100, 12, lg=0.99)]
    knee = find_knee(steps, p99_slo_ms=200, error_budget=0.001)
    assert knee.limiting == "load_generator" and knee.lower_bound
    assert "LOWER BOUND" in knee.advice and "--processes" in knee.advice
    assert knee.plateaued


def test_errors_over_budget_stop_the_ramp():
    steps = [_step(10, 1000, 5), _step(20, 1800, 6, fail=100)]
    knee = find_knee(steps, p99_slo_ms=200, error_budget=0.001)
    assert knee.grabs_per_second == 1000 and knee.stop_reason.startswith("errors")


def test_store_saturation_is_named():
    steps = [_step(10, 1000, 5, store=0.5), _step(20, 1500, 8, store=0.92), _step(40, 1500, 300, store=1.0)]
    assert find_knee(steps, 100, 0.01).limiting == "store"


def test_a_ramp_that_breaks_at_once_has_no_knee():
    knee = find_knee([_step(10, 500, 900)], p99_slo_ms=100, error_budget=0.01)
    assert knee.grabs_per_second is None and knee.lower_bound


# --- projection -----------------------------------------------------------------------------------


def _inputs(**over):
    base = dict(
        target_grabs_per_second=760_000,
        headroom=0.30,
        service_grabs_per_core=5_000,
        service_basis="test",
        cores_per_instance=16,
        kernel_shares_per_second=40e6,
        redis_grabs_per_core=70_000,
        loadgen_grabs_per_core=6_000,
        bytes_per_envelope={"redis": 1500.0, "memory": 2500.0},
        open_envelopes=4.56e6,
    )
    base.update(over)
    return model.Inputs(**base)


def test_projection_arithmetic():
    rows = model.project(_inputs())
    need = 760_000 / 0.7
    assert model.row_value(rows, "service cores") == math.ceil(need / 5_000) == 218
    assert model.row_value(rows, "service instances") == math.ceil(218 / 16)
    assert model.row_value(rows, "Redis shards") == math.ceil(need / 70_000) == 16
    assert model.row_value(rows, "split-kernel cores") == pytest.approx(need / 40e6, rel=1e-3)
    assert model.row_value(rows, "redis store: memory per million open envelopes") == pytest.approx(
        1500 * 1e6 / 2**20, abs=0.05
    )
    assert model.row_value(rows, "redis store: memory at the peak") == pytest.approx(
        1500 * 4.56e6 / 0.7 / 2**30, abs=0.005
    )
    assert model.row_value(rows, "load-generator cores to storm-test the target") == math.ceil(760_000 / 6_000)


def test_more_headroom_never_needs_less_hardware():
    low, high = model.project(_inputs(headroom=0.1)), model.project(_inputs(headroom=0.5))
    for q in ("service cores", "Redis shards"):
        assert model.row_value(high, q) >= model.row_value(low, q)


def test_rows_without_a_measurement_are_left_out():
    rows = model.project(_inputs(redis_grabs_per_core=None, bytes_per_envelope={}))
    names = {r["quantity"] for r in rows}
    assert "Redis shards" not in names and not any("memory" in n for n in names)


def test_service_rate_from_cpu_cost_and_from_workers():
    rate, how = model.service_rate_per_core(4000, 0.8, 1)
    assert rate == pytest.approx(5000) and "CPU" in how
    rate, how = model.service_rate_per_core(4000, None, 2)
    assert rate == 2000 and "worker" in how
    with pytest.raises(ValueError, match="grabs_per_second"):
        model.service_rate_per_core(0, 1.0, 1)


def test_a_busy_machine_with_no_saturated_component_is_named_and_a_lower_bound():
    steps = [_step(10, 1000, 5), _step(20, 1100, 300)]
    for s in steps:
        s.cpu_cores["machine"], s.cores["machine"] = 1.95, 2
    knee = find_knee(steps, 100, 0.01)
    assert knee.limiting == "machine" and knee.lower_bound and "other machines" in knee.advice


def test_a_step_with_no_answers_is_not_sustainable():
    steps = [
        _step(10, 1000, 5),
        RampStep(users=30, duration_s=4, requests=0, failures=0, grabs_per_second=0, p50_ms=0, p99_ms=0),
    ]
    knee = find_knee(steps, 100, 0.01)
    assert knee.grabs_per_second == 1000 and "no grab was answered" in knee.stop_reason


def test_the_storm_kits_load_generator_flag_counts_even_below_the_cpu_threshold():
    steps = [_step(10, 1000, 5, lg=0.5), _step(20, 1100, 6, lg=0.6)]
    steps[1].loadgen_saturated = True
    knee = find_knee(steps, 100, 0.01)
    assert knee.limiting == "load_generator" and knee.lower_bound
    assert RampStep.from_json(steps[1].to_json()).loadgen_saturated


def test_a_ramp_whose_audit_failed_is_never_projected_from():
    from hongbao.harness.capacity.plan import _pick

    good = {"store": "memory", "audit_ok": True, "knee": {"grabs_per_second": 900}}
    lossy = {"store": "redis", "audit_ok": False, "knee": {"grabs_per_second": 5000}}
    assert _pick([good, lossy]) is good
    assert _pick([lossy]) is None


def _open_step(rate: float, dropped: int, p99_ms: float, gen: float, svc: float) -> RampStep:
    return RampStep(
        users=0,
        duration_s=3,
        requests=int(rate * 3),
        failures=0,
        grabs_per_second=rate,
        p50_ms=0.5,
        p99_ms=p99_ms,
        cpu_cores={"load_generator": gen, "service": svc, "machine": gen + svc},
        cores={"load_generator": 1, "service": 1, "machine": 2},
        offered_per_second=rate,
        answered_per_second=rate,
        offered=rate * 3,
        dropped=dropped,
    )


def test_grabs_dropped_before_any_cpu_saturated_name_the_load_generator_and_a_lower_bound():
    """The figures of a one-process ramp on 2 cores: the step at 10,000/s dropped 1% of its grabs
    with the generator at 0.8 of its core (a second process moved that knee to 12,000/s)."""
    steps = [_open_step(6000, 0, 2.0, 0.48, 0.42), _open_step(8000, 0, 5.9, 0.70, 0.65),
             _open_step(10000, 295, 104.0, 0.80, 0.78)]  # fmt: skip
    knee = find_knee(steps, p99_slo_ms=200, error_budget=0.001)
    assert knee.offered_per_second == 8000
    assert knee.limiting == "load_generator" and knee.lower_bound
    assert "could not start every grab on time" in knee.advice
    # the same ramp broken by latency alone names no component: the slow part is elsewhere
    steps[-1] = _open_step(10000, 0, 404.0, 0.80, 0.78)
    slow = find_knee(steps, p99_slo_ms=200, error_budget=0.001)
    assert slow.limiting == "none" and not slow.lower_bound
