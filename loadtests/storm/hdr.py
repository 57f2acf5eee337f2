"""A storm's latency histograms in HdrHistogram's interchange format (histogram logs, ``.hlog``),
readable by the ``hdrhistogram`` package, HdrHistogram's HistogramLogProcessor, hdr-plot and
dashboards that take HdrHistogram logs:

- ``storm_latency.hlog``: grab latency (every outcome), one interval per second of the storm; in
  the open model measured from each grab's intended start, in the closed model from the send;
- ``storm_service_time.hlog``: grab service time (from the actual send), one interval for the storm.

Values are integer microseconds, the kit's own histogram buckets (3 significant digits,
loadtests/storm/histogram.py) with their exact counts; the histograms are merged across worker
processes by adding counts before they are written, so the files hold exactly what the kit reports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from hongbao.loadtests.storm.histogram import Histogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
FILES = {"latency": "storm_latency.hlog", "service_time": "storm_service_time.hlog"}


def to_hdr(counts: dict[int, int]) -> HdrHistogram:
    """An HdrHistogram (1 µs to 1 h, 3 significant digits) holding ``counts`` (µs value -> count);
    a 0 µs sample is recorded as 1 µs, the format's lowest trackable value."""
    h = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    for value, n in counts.items():
        h.record_value(min(max(int(value), LOWEST_US), HIGHEST_US), int(n))
    return h


def _write(path: Path, intervals: list[tuple[float, float, dict[int, int]]], base_s: float, comment: str) -> None:
    with path.open("w") as f:
        log = HistogramLogWriter(f)
        log.output_comment(comment)
        log.output_log_format_version()
        # StartTime and BaseTime as HdrHistogram writes them, the same digits in both (interval
        # start times are relative to them; a reader skips intervals that start before StartTime)
        when = datetime.fromtimestamp(base_s, UTC).isoformat(" ")
        f.write(
            f"#[StartTime: {base_s:f} (seconds since epoch), {when}]\n#[BaseTime: {base_s:f} (seconds since epoch)]\n"
        )
        log.output_legend()
        for start, end, counts in intervals:
            if counts:  # interval max in milliseconds (values are microseconds)
                log.output_interval_histogram(to_hdr(counts), start, end, max_value_unit_ratio=1e3)


def write(out: Path, extra: dict, open_model: bool) -> dict:
    """Write both logs into ``out`` from the merged recording (locust_extra.json); returns what
    storm.json says about them."""
    seconds = sorted(int(s) for s in extra.get("grab_hist", {}))
    base = float(extra.get("started_at") or (seconds[0] if seconds else 0))
    per_second = [
        (max(s - base, 0.0), s + 1 - base, Histogram.from_json(extra["grab_hist"][str(s)]).counts) for s in seconds
    ]
    latency_from = "the intended start" if open_model else "the send"
    _write(
        out / FILES["latency"],
        per_second,
        base,
        f"hongbao storm: grab latency from {latency_from}, microseconds, one interval per second",
    )
    end = float(extra.get("ended_at") or base)
    service = Histogram.from_json(extra.get("service", {})).counts
    _write(
        out / FILES["service_time"],
        [(0.0, max(end - base, 0.0), service)],
        base,
        "hongbao storm: grab service time from the actual send, microseconds",
    )
    return {
        "files": dict(FILES),
        "unit": "microseconds",
        "latency_from": latency_from,
        "format": "HdrHistogram log 1.2 (hdrhistogram: hdrh.log.HistogramLogReader)",
    }
