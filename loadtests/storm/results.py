"""Turn what a storm left in its run folder into the figures of storm.json.

Inputs: locust_extra.json (exact microsecond histograms and per-second timeline, merged over
workers by the master) and locust_stats.csv (Locust's own aggregated totals, kept for
cross-checking: Locust rounds latencies below 100 ms to whole milliseconds, we do not).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.outcomes import GRAB_NAMES


def locust_stats(out_dir: Path) -> list[dict]:
    """Rows of Locust's own ``locust_stats.csv`` (numbers as numbers)."""
    path = out_dir / "locust_stats.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            clean: dict[str, float | int | str] = {}
            for k, v in row.items():
                try:
                    clean[k] = float(v) if "." in v else int(v)
                except (TypeError, ValueError):
                    clean[k] = v
            rows.append(clean)
    return rows


def locust_final(out_dir: Path) -> dict[str, list[int]]:
    """name -> [requests, failures] from Locust's own final stats (``--json-file``, written at
    exit after every worker's last report; the CSV is rewritten only once a second)."""
    path = out_dir / "locust_final.json"
    if not path.is_file():
        return {}
    out: dict[str, list[int]] = {}
    for e in json.loads(path.read_text()):
        row = out.setdefault(e["name"], [0, 0])
        row[0] += int(e.get("num_requests", 0))
        row[1] += int(e.get("num_failures", 0))
    return out


def grab_histogram(extra: dict) -> Histogram:
    h = Histogram()
    for name in GRAB_NAMES:
        if name in extra.get("hist", {}):
            h.merge({int(k): v for k, v in extra["hist"][name].items()})
    return h


def totals(extra: dict, active_s: float) -> dict:
    """Request counts by outcome, error ratio and rates over the active storm time."""
    per_name = {n: [0, 0] for n in ("create envelope", *GRAB_NAMES)}
    for names in extra.get("timeline", {}).values():
        for name, (n, f) in names.items():
            row = per_name.setdefault(name, [0, 0])
            row[0] += n
            row[1] += f
    requests = sum(n for n, _ in per_name.values())
    failures = sum(f for _, f in per_name.values())
    grabs_ok = per_name["grab"][0] - per_name["grab"][1]
    span = max(active_s, 1e-9)
    return {
        "requests": requests,
        "failures": failures,
        "error_ratio": failures / requests if requests else None,
        "grabs_ok": grabs_ok,
        "grab_failures": per_name["grab"][1],
        "sold_out": per_name["grab sold_out"][0],
        "expired": per_name["grab expired"][0],
        "repeat": per_name["grab repeat"][0],
        "envelopes_created": per_name["create envelope"][0] - per_name["create envelope"][1],
        "active_s": round(active_s, 3),
        "grabs_per_s": round(grabs_ok / span, 1),
        "requests_per_s": round(requests / span, 1),
        "by_name": {k: {"requests": v[0], "failures": v[1]} for k, v in per_name.items()},
    }


def timeline(extra: dict) -> list[dict]:
    """One row per second of the storm: outcome counts and grab p50/p99 (exact, in ms)."""
    rows: list[dict] = []
    seconds = sorted(int(s) for s in extra.get("timeline", {}))
    if not seconds:
        return rows
    t0 = int(extra.get("started_at") or seconds[0])
    hists = extra.get("grab_hist", {})
    for s in range(seconds[0], seconds[-1] + 1):
        names = extra["timeline"].get(str(s), {})
        h = Histogram.from_json(hists.get(str(s), {}))
        p50, p99 = h.percentile_us(50), h.percentile_us(99)
        rows.append(
            {
                "t_s": s - t0,
                "grabs_ok": names.get("grab", [0, 0])[0] - names.get("grab", [0, 0])[1],
                "sold_out": names.get("grab sold_out", [0, 0])[0],
                "requests": sum(v[0] for v in names.values()),
                "failures": sum(v[1] for v in names.values()),
                "grab_p50_ms": None if p50 is None else p50 / 1000,
                "grab_p99_ms": None if p99 is None else p99 / 1000,
            }
        )
    return rows


def active_seconds(extra: dict) -> float:
    """Seconds from the first to the end of the last second with traffic."""
    seconds = sorted(int(s) for s in extra.get("timeline", {}))
    if not seconds:
        return 0.0
    start = max(float(extra.get("started_at") or seconds[0]), float(seconds[0]))
    end = min(float(seconds[-1] + 1), float(extra.get("ended_at") or seconds[-1] + 1))
    return end - start


def latency(extra: dict) -> dict:
    out = {name: Histogram.from_json(h).summary_ms() for name, h in extra.get("hist", {}).items()}
    out["grab (all outcomes)"] = grab_histogram(extra).summary_ms()
    return out


def clients(sc, extra: dict) -> dict:
    """The client behaviours the storm played, counted by name, with the shares the scenario set."""
    played = extra.get("behaviours", {})
    return {
        "double_tap": {"share": sc.double_tap_share, "played": played.get("double_tap", 0)},
        "retry": {"share": sc.retry_share, "played": played.get("retry", 0), "after_ms": sc.retry_after_ms},
        "re_tap": {"share": sc.re_tap_share, "played": played.get("re_tap", 0)},
    }
