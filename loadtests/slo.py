"""SLO gate for storms: ``--slo "p99<50ms" --slo "errors<0.1%" --slo "grabs_per_s>=1000"``.

Metrics: ``pNN`` / ``pNN.N`` (grab latency percentile, any outcome), ``mean`` (grab latency),
``errors`` (failed requests / all requests), ``grabs_per_s`` (new grabs acknowledged per second),
``rps`` (all requests per second). Units: us, ms, s for latency; % or a bare ratio for errors.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_RE = re.compile(
    r"^\s*(?P<metric>p\d+(?:\.\d+)?|mean|errors|grabs_per_s|rps)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|%)?\s*$"
)
_LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Slo:
    text: str
    metric: str
    op: str
    limit: float  # latency in ms, errors as a ratio, rates per second

    def check(self, observed: float | None) -> bool:
        return observed is not None and _OPS[self.op](observed, self.limit)


def parse_slo(text: str) -> Slo:
    """Parse one SLO; ValueError names what is wrong and what is accepted."""
    m = _RE.match(text)
    if not m:
        raise ValueError(
            f"--slo {text!r}: expected METRIC OP VALUE[UNIT], e.g. 'p99<50ms', "
            "'errors<0.1%', 'grabs_per_s>=1000' (metrics: pNN, mean, errors, "
            "grabs_per_s, rps; ops: < <= > >=)"
        )
    metric, op, value, unit = m["metric"], m["op"], float(m["value"]), m["unit"]
    if metric.startswith("p") and metric != "p" and not 0 < float(metric[1:]) <= 100:
        raise ValueError(f"--slo {text!r}: percentile must be within (0, 100]")
    if metric.startswith("p") or metric == "mean":
        if unit not in _LATENCY_UNITS:
            raise ValueError(f"--slo {text!r}: a latency needs a unit us, ms or s")
        value *= _LATENCY_UNITS[unit]
    elif metric == "errors":
        if unit == "%":
            value /= 100.0
        elif unit is not None or value > 1:
            raise ValueError(f"--slo {text!r}: errors is a percentage ('0.1%') or a ratio <= 1")
    elif unit is not None:
        raise ValueError(f"--slo {text!r}: {metric} is a rate per second and takes no unit")
    return Slo(text=text.strip(), metric=metric, op=op, limit=value)


def observe(slo: Slo, metrics: dict) -> float | None:
    """The observed value of ``slo.metric`` from a storm's metrics (latency in ms)."""
    if slo.metric.startswith("p"):
        hist = metrics.get("grab_histogram")  # loadtests.storm.histogram.Histogram
        us = hist.percentile_us(float(slo.metric[1:])) if hist is not None else None
        return None if us is None else us / 1000.0
    return {
        "mean": metrics.get("grab_mean_ms"),
        "errors": metrics.get("error_ratio"),
        "grabs_per_s": metrics.get("grabs_per_s"),
        "rps": metrics.get("requests_per_s"),
    }[slo.metric]


def gate(slos: list[Slo], metrics: dict) -> list[dict]:
    """One row per SLO: text, observed, ok (an unobservable metric counts as a breach)."""
    rows = []
    for s in slos:
        seen = observe(s, metrics)
        rows.append(
            {"slo": s.text, "metric": s.metric, "op": s.op, "limit": s.limit, "observed": seen, "ok": s.check(seen)}
        )
    return rows
