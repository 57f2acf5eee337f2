"""A sparse log-linear latency histogram in integer microseconds (HDR-style, 3 significant digits).

Locust rounds response times to whole milliseconds below 100 ms before bucketing its
percentiles, so a fast service reads "0 ms" at every percentile. The recorder feeds every
request's exact float milliseconds into one of these instead. Buckets keep three significant
digits of the microsecond value (1 µs steps below 1 ms, 10 µs steps below 10 ms, ...), so any
percentile is within 0.1 % of the true sample. Histograms merge by adding counts, which is how
worker processes' histograms are combined on the Locust master.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def bucket_us(value_us: float) -> int:
    """The bucket (a representative microsecond value) that holds ``value_us``."""
    v = int(value_us + 0.5) if value_us > 0 else 0
    if v < 1000:
        return v
    if v < 10_000:
        return v - v % 10
    if v < 100_000:
        return v - v % 100
    if v < 1_000_000:
        return v - v % 1000
    step = 10 ** (len(str(v)) - 3)
    return (v // step) * step


class Histogram:
    """Counts of latencies per microsecond bucket; ``record`` takes milliseconds (Locust's unit)."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {int(k): int(c) for k, c in (counts or {}).items()}

    def record(self, response_time_ms: float) -> None:
        b = bucket_us(response_time_ms * 1000.0)
        self.counts[b] = self.counts.get(b, 0) + 1

    def record_us(self, value_us: float) -> None:
        b = bucket_us(value_us)
        counts = self.counts
        counts[b] = counts.get(b, 0) + 1

    def merge(self, other: Histogram | Mapping[int, int]) -> Histogram:
        counts = other.counts if isinstance(other, Histogram) else other
        for k, c in counts.items():
            k = int(k)
            self.counts[k] = self.counts.get(k, 0) + int(c)
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile_us(self, q: float) -> int | None:
        """The smallest bucket value with at least ``q`` percent of samples at or below it."""
        if not 0 <= q <= 100:
            raise ValueError(f"percentile must be within 0..100 (got {q})")
        n = self.total
        if n == 0:
            return None
        rank = max(1, -(-q * n // 100))  # ceil(q/100 * n), at least the first sample
        seen = 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen >= rank:
                return k
        return max(self.counts)

    def mean_us(self) -> float | None:
        n = self.total
        return None if n == 0 else sum(k * c for k, c in self.counts.items()) / n

    def summary_ms(self, percentiles: Iterable[float] = (50, 90, 95, 99, 99.9)) -> dict:
        """``{"count", "mean_ms", "p50_ms", ..., "max_ms"}`` with microsecond resolution."""
        out: dict = {"count": self.total}
        mean = self.mean_us()
        out["mean_ms"] = None if mean is None else round(mean / 1000.0, 4)
        for q in percentiles:
            v = self.percentile_us(q)
            out[f"p{q:g}_ms"] = None if v is None else v / 1000.0
        out["max_ms"] = max(self.counts) / 1000.0 if self.counts else None
        return out

    def to_json(self) -> dict[str, int]:
        return {str(k): c for k, c in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        return cls({int(k): int(v) for k, v in data.items()})
