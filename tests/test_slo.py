"""SLO expressions for `hongbao storm --slo`: parsing, units, and the gate."""

from __future__ import annotations

import pytest

from hongbao.loadtests.slo import gate, parse_slo
from hongbao.loadtests.storm.histogram import Histogram


@pytest.mark.parametrize(
    "text,metric,op,limit",
    [
        ("p99<50ms", "p99", "<", 50.0),
        ("p99.9 <= 800us", "p99.9", "<=", 0.8),
        ("p50<0.2s", "p50", "<", 200.0),
        ("mean<2ms", "mean", "<", 2.0),
        ("errors<0.1%", "errors", "<", 0.001),
        ("errors<=0.01", "errors", "<=", 0.01),
        ("grabs_per_s>=1000", "grabs_per_s", ">=", 1000.0),
        ("rps>5", "rps", ">", 5.0),
    ],
)
def test_parse(text, metric, op, limit):
    s = parse_slo(text)
    assert (s.metric, s.op) == (metric, op)
    assert s.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("p99<50", "needs a unit"),
        ("p99=50ms", "expected METRIC OP VALUE"),
        ("p0<1ms", "within (0, 100]"),
        ("errors<5", "percentage"),
        ("grabs_per_s>10ms", "takes no unit"),
        ("latency<1ms", "expected METRIC OP VALUE"),
    ],
)
def test_parse_errors_say_what_is_accepted(text, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_slo(text)


def test_gate_uses_exact_sub_millisecond_percentiles():
    h = Histogram()
    for _ in range(99):
        h.record(0.300)  # 300 µs: Locust itself would report 0 ms
    h.record(12.0)
    metrics = {
        "grab_histogram": h,
        "error_ratio": 0.002,
        "grabs_per_s": 900.0,
        "requests_per_s": 1000.0,
        "grab_mean_ms": 0.417,
    }
    rows = gate(
        [
            parse_slo("p99<0.5ms"),
            parse_slo("p100<10ms"),
            parse_slo("errors<0.1%"),
            parse_slo("grabs_per_s>=800"),
            parse_slo("mean<1ms"),
        ],
        metrics,
    )
    assert [r["ok"] for r in rows] == [True, False, False, True, True]
    assert rows[0]["observed"] == pytest.approx(0.3)
    assert rows[1]["observed"] == pytest.approx(12.0)


def test_unobservable_metric_breaches():
    rows = gate([parse_slo("p99<1ms")], {"grab_histogram": Histogram()})
    assert rows[0]["ok"] is False and rows[0]["observed"] is None
