"""Arrival-rate plans of the open model: when each grab of a storm is meant to start, whatever the
answers do (no Locust import: tests, plots and the capacity ramp use it in-process).

A plan is a piecewise-linear rate curve in grabs per second plus instantaneous bursts; arrival
``k`` (0-based) is meant to start at the instant the curve's integral reaches ``k``, so a constant
rate spaces arrivals evenly (as k6's constant-arrival-rate does). Rates in the scenario are per
``load.time_unit_s`` seconds (k6's ``timeUnit``). The ``[shape]`` parameters by kind:

- steady (alias constant): ``rate``
- ramp (alias ramping): ``start_rate`` and either ``stages = [{target = R, duration_s = S}, ...]``
  (linear from one target to the next, k6's ramping-arrival-rate) or a step ramp ``step_rate``,
  ``step_s`` (the rate rises by step_rate every step_s seconds: the capacity search's shape)
- countdown: ``baseline_rate``, ``peak_rate``, ``t0_s`` (midnight), ``lead_s`` (the rate climbs
  linearly to the peak over the lead before T0), ``hold_s``, ``decay_s`` (linear fall), ``end_rate``
- herd: ``burst`` grabs all meant to start at ``envelopes.hot_release_s`` (the thundering herd),
  on top of a background ``rate`` (default 0)
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

ALIASES = {"constant": "steady", "ramping": "ramp"}


def _num(params: dict, key: str, default: float | None = None) -> float:
    value = params.get(key, default)
    if value is None:
        raise ValueError(f"shape.{key} is required for this arrival shape")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"shape.{key} must be a number >= 0 (got {value!r})")
    return float(value)


@dataclass(frozen=True)
class Piece:
    """Rate r0 -> r1 (per second) linearly over [t0, t1), or a burst of ``n`` at t0 when t1 == t0."""

    t0: float
    t1: float
    r0: float
    r1: float
    n: float = 0.0

    @property
    def count(self) -> float:
        return self.n if self.t1 == self.t0 else (self.r0 + self.r1) / 2 * (self.t1 - self.t0)

    def offset_of(self, x: float) -> float:
        """Seconds into the piece at which its integral reaches ``x`` (0 <= x <= count)."""
        if self.t1 == self.t0:
            return 0.0
        a = (self.r1 - self.r0) / (self.t1 - self.t0)
        if abs(a) < 1e-12:
            return x / self.r0 if self.r0 > 0 else 0.0
        return (-self.r0 + math.sqrt(max(self.r0 * self.r0 + 2 * a * x, 0.0))) / a


class ArrivalPlan:
    """The storm's intended start times: ``time_of(k)`` for arrival k, ``rate_at(t)``, ``total``."""

    def __init__(self, pieces: list[Piece], duration_s: float) -> None:
        self.duration_s = duration_s
        self.pieces = [p for p in pieces if p.t0 < duration_s and p.count > 0]
        self.pieces = [
            Piece(p.t0, min(p.t1, duration_s), p.r0, _rate_on(p, min(p.t1, duration_s)), p.n) for p in self.pieces
        ]
        self.starts: list[float] = []
        acc = 0.0
        for p in self.pieces:
            self.starts.append(acc)
            acc += p.count
        self.total = int(math.floor(acc + 1e-9))

    def time_of(self, k: int) -> float | None:
        """Seconds into the storm at which arrival ``k`` is meant to start; None past the plan."""
        if k >= self.total or not self.pieces:
            return None
        i = bisect.bisect_right(self.starts, k) - 1
        while i + 1 < len(self.pieces) and self.pieces[i].count <= k - self.starts[i]:
            i += 1
        p = self.pieces[i]
        return p.t0 + p.offset_of(min(k - self.starts[i], p.count))

    def rate_at(self, t_s: float) -> float:
        """Offered grabs per second at ``t_s`` (bursts not included)."""
        return sum(_rate_on(p, t_s) for p in self.pieces if p.t1 > p.t0 and p.t0 <= t_s < p.t1)

    def count_between(self, a_s: float, b_s: float) -> float:
        """Arrivals meant to start in [a_s, b_s)."""
        return self._integral(b_s) - self._integral(a_s)

    def _integral(self, t_s: float) -> float:
        total = 0.0
        for p in self.pieces:
            if t_s <= p.t0:
                break
            if p.t1 == p.t0:
                total += p.n
            else:
                end = min(t_s, p.t1)
                total += (p.r0 + _rate_on(p, end)) / 2 * (end - p.t0)
        return total


def _rate_on(p: Piece, t_s: float) -> float:
    if p.t1 == p.t0:
        return 0.0
    return p.r0 + (p.r1 - p.r0) * (t_s - p.t0) / (p.t1 - p.t0)


def _steady(params: dict, per_s: float, duration_s: float, release_s: float) -> list[Piece]:
    r = _num(params, "rate") * per_s
    return [Piece(0.0, duration_s, r, r)]


def _ramp(params: dict, per_s: float, duration_s: float, release_s: float) -> list[Piece]:
    start = _num(params, "start_rate", 0.0) * per_s
    stages = params.get("stages")
    pieces: list[Piece] = []
    if stages is not None:
        if not isinstance(stages, list) or not stages:
            raise ValueError("shape.stages must be a list of {target, duration_s} tables")
        t, r = 0.0, start
        for i, st in enumerate(stages):
            if not isinstance(st, dict):
                raise ValueError(f"shape.stages[{i}] must be a table {{target, duration_s}} (got {st!r})")
            target, d = _num(st, "target") * per_s, _num(st, "duration_s")
            if d > 0:
                pieces.append(Piece(t, t + d, r, target))
            t, r = t + d, target
        if t < duration_s:
            pieces.append(Piece(t, duration_s, r, r))  # the last target is held to the end
        return pieces
    step, step_s = _num(params, "step_rate", 0.0) * per_s, max(_num(params, "step_s", 5.0), 1e-3)
    t, i = 0.0, 0
    while t < duration_s:
        r = start + step * i
        pieces.append(Piece(t, t + step_s, r, r))
        t, i = t + step_s, i + 1
    return pieces


def ramp_step_rate(params: dict, step: int, time_unit_s: float = 1.0) -> float:
    """Offered grabs/s of step ``step`` (0-based) of a step ramp."""
    return (_num(params, "start_rate", 0.0) + _num(params, "step_rate", 0.0) * step) / time_unit_s


def _countdown(params: dict, per_s: float, duration_s: float, release_s: float) -> list[Piece]:
    base, peak = _num(params, "baseline_rate") * per_s, _num(params, "peak_rate") * per_s
    end = _num(params, "end_rate", params.get("baseline_rate")) * per_s
    t0, lead = _num(params, "t0_s", 10), _num(params, "lead_s", 2)
    hold, decay = _num(params, "hold_s", 3), _num(params, "decay_s", 10)
    up = max(t0 - lead, 0.0)
    pieces = [Piece(0.0, up, base, base), Piece(up, t0, base, peak), Piece(t0, t0 + hold, peak, peak)]
    if decay > 0:
        pieces.append(Piece(t0 + hold, t0 + hold + decay, peak, end))
    pieces.append(Piece(t0 + hold + decay, max(duration_s, t0 + hold + decay), end, end))
    return [p for p in pieces if p.t1 > p.t0]


def _herd(params: dict, per_s: float, duration_s: float, release_s: float) -> list[Piece]:
    r = _num(params, "rate", 0.0) * per_s
    burst = _num(params, "burst")
    pieces = [
        Piece(0.0, release_s, r, r),
        Piece(release_s, release_s, 0.0, 0.0, burst),
        Piece(release_s, duration_s, r, r),
    ]
    return [p for p in pieces if p.t1 > p.t0 or p.n > 0]


BUILDERS = {"steady": _steady, "ramp": _ramp, "countdown": _countdown, "herd": _herd}


def plan_for(
    kind: str, params: dict, *, duration_s: float, time_unit_s: float = 1.0, hot_release_s: float = 0.0
) -> ArrivalPlan:
    """The arrival plan of a ``[shape]`` table (see the module docstring); ValueError naming the field."""
    kind = ALIASES.get(kind, kind)
    if kind not in BUILDERS:
        raise ValueError(f"shape.kind must be one of {', '.join(sorted(BUILDERS))} (got {kind!r})")
    if time_unit_s <= 0:
        raise ValueError(f"load.time_unit_s must be > 0 (got {time_unit_s})")
    return ArrivalPlan(BUILDERS[kind](params, 1.0 / time_unit_s, duration_s, hot_release_s), duration_s)
