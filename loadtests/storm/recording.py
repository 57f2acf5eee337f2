"""What a storm's Locust process has seen: per-name microsecond histograms (latency from the intended
start in the open model), the grabs' service time (from the actual send), a per-second timeline,
per-second grab latencies, per-user grab counts, dropped grabs per second, the client behaviours
(double taps, retries, re-taps) with the answers each got. No Locust import here, so the step-ramp
stop rule (loadtests/storm/ramp_stop.py) and tests can use it in-process; the grabbers
(loadtests/storm/grabber.py) record into it directly, recorder.py feeds it other users' events."""

from __future__ import annotations

import os
import time

from hongbao.loadtests.storm.histogram import Histogram, bucket_us
from hongbao.loadtests.storm.outcomes import GRAB, GRAB_NAMES, REPEAT

BEHAVIOURS = ("double_tap", "retry", "re_tap")


class Recording:
    """What one process has seen since its last report (workers) or in total (master/local)."""

    def __init__(self) -> None:
        self.hist: dict[str, Histogram] = {}
        self.service = Histogram()  # grabs: actual send -> answer
        self.lateness = Histogram()  # first grabs: intended start -> actual send (0 in the closed model)
        self.timeline: dict[int, dict[str, list[int]]] = {}  # epoch second -> name -> [n, failures]
        self.grab_hist: dict[int, Histogram] = {}  # epoch second -> grab latencies
        self.attempts: dict[str, int] = {}  # user -> grab requests sent
        self.grabbed: dict[str, int] = {}  # user -> new grabs acknowledged
        self.grants: list[list] = []  # [envelope id, user, amount_cents] per grant
        self.envelopes: dict[str, list[int]] = {}  # envelope id -> [total, count, min] (created)
        self.dropped: dict[int, int] = {}  # epoch second (intended) -> grabs not started
        self.idle = 0  # arrivals that found nothing to grab
        self.behaviours: dict[str, int] = {}  # behaviour -> times it was played
        self.answers: list[list] = []  # [envelope, user, behaviour, [[outcome, cents]..]]
        self.pool_peak: dict[str, int] = {}  # process -> most open-model grabbers at once
        self.gc_pause_ms: dict[str, float] = {}  # process -> its longest garbage-collector pause
        self._sec = -1
        self._row: dict[str, list[int]] = {}
        self._sec_hist = Histogram()

    def _second(self, sec: int) -> None:
        self._sec = sec
        self._row = self.timeline.setdefault(sec, {})
        self._sec_hist = self.grab_hist.setdefault(sec, Histogram())

    def add_grab(
        self,
        name: str,
        now: float,
        latency_us: float,
        service_us: float,
        user_id: str,
        failed: bool,
        grant: list | None,
        first: bool = True,
    ) -> None:
        """One grab request (the grabbers' path: no dicts built per request). ``latency_us`` from the
        intended start (open model) or the send (closed); ``first``: not a client's repeat."""
        h = self.hist.get(name)
        if h is None:
            h = self.hist[name] = Histogram()
        b = bucket_us(latency_us)  # one bucket for the name's and the second's histogram
        counts = h.counts
        counts[b] = counts.get(b, 0) + 1
        self.service.record_us(service_us)
        sec = int(now)
        if sec != self._sec:
            self._second(sec)
        row = self._row.get(name)
        if row is None:
            row = self._row[name] = [0, 0]
        row[0] += 1
        if failed:
            row[1] += 1
        counts = self._sec_hist.counts
        counts[b] = counts.get(b, 0) + 1
        if first and name != REPEAT:
            self.lateness.record_us(latency_us - service_us)
            self.attempts[user_id] = self.attempts.get(user_id, 0) + 1
        if name == GRAB and not failed:
            self.grabbed[user_id] = self.grabbed.get(user_id, 0) + 1
        if grant is not None:
            self.grants.append(grant)

    def add(
        self, name: str, response_time_ms: float, failed: bool, user_id: str | None, context: dict | None = None
    ) -> None:
        """One request from a Locust event; ``context`` may carry what the adapter said: ``grant``
        [envelope id, amount_cents] or ``envelope`` [id, total_cents, count, min_cents]."""
        self.hist.setdefault(name, Histogram()).record(response_time_ms)
        sec = int(time.time())
        if sec != self._sec:
            self._second(sec)
        row = self._row.setdefault(name, [0, 0])
        row[0] += 1
        row[1] += int(failed)
        if name in GRAB_NAMES:
            self._sec_hist.record(response_time_ms)
            self.service.record(response_time_ms)
            if user_id and name != REPEAT:  # a client retry is not a new attempt
                self.attempts[user_id] = self.attempts.get(user_id, 0) + 1
                if name == GRAB and not failed:
                    self.grabbed[user_id] = self.grabbed.get(user_id, 0) + 1
        if context and not failed:
            if context.get("grant"):
                self.grants.append([context["grant"][0], user_id, context["grant"][1]])
            if context.get("envelope"):
                self.add_envelope(*context["envelope"])

    def add_envelope(self, envelope_id, total_cents: int, count: int, min_cents: int) -> None:
        self.envelopes[str(envelope_id)] = [int(total_cents), int(count), int(min_cents)]

    def drop(self, intended: float, n: int = 1) -> None:
        sec = int(intended)
        self.dropped[sec] = self.dropped.get(sec, 0) + n

    def behaviour(self, name: str, envelope_id, user_id: str, answers: list[list]) -> None:
        self.behaviours[name] = self.behaviours.get(name, 0) + 1
        self.answers.append([str(envelope_id), user_id, name, answers])

    def pool_size(self, n: int) -> None:
        _keep_peak(self.pool_peak, n)

    def gc_pause(self, ms: float) -> None:
        _keep_peak(self.gc_pause_ms, round(ms, 2))

    def to_json(self) -> dict:
        return {
            "hist": {k: h.to_json() for k, h in self.hist.items()},
            "service": self.service.to_json(),
            "lateness": self.lateness.to_json(),
            "timeline": {str(s): v for s, v in self.timeline.items()},
            "grab_hist": {str(s): h.to_json() for s, h in self.grab_hist.items()},
            "attempts": self.attempts,
            "grabbed": self.grabbed,
            "grants": self.grants,
            "envelopes": self.envelopes,
            "dropped": {str(s): n for s, n in self.dropped.items()},
            "idle": self.idle,
            "behaviours": self.behaviours,
            "answers": self.answers,
            "pool_peak": self.pool_peak,
            "gc_pause_ms": self.gc_pause_ms,
        }

    def take(self) -> dict:
        """What was recorded since the last take, as JSON; the recording starts over in place
        (the grabbers keep their reference to it)."""
        data = self.to_json()
        Recording.__init__(self)
        return data

    def merge_json(self, data: dict) -> None:
        for k, h in data.get("hist", {}).items():
            self.hist.setdefault(k, Histogram()).merge({int(b): c for b, c in h.items()})
        self.service.merge({int(b): c for b, c in data.get("service", {}).items()})
        self.lateness.merge({int(b): c for b, c in data.get("lateness", {}).items()})
        for s, names in data.get("timeline", {}).items():
            dst = self.timeline.setdefault(int(s), {})
            for name, (n, f) in names.items():
                row = dst.setdefault(name, [0, 0])
                row[0] += n
                row[1] += f
        for s, h in data.get("grab_hist", {}).items():
            self.grab_hist.setdefault(int(s), Histogram()).merge({int(b): c for b, c in h.items()})
        for key in ("attempts", "grabbed", "behaviours"):
            dst = getattr(self, key)
            for u, n in data.get(key, {}).items():
                dst[u] = dst.get(u, 0) + n
        for s, n in data.get("dropped", {}).items():
            self.dropped[int(s)] = self.dropped.get(int(s), 0) + n
        for p, n in data.get("pool_peak", {}).items():
            self.pool_peak[p] = max(self.pool_peak.get(p, 0), n)
        for p, ms in data.get("gc_pause_ms", {}).items():
            self.gc_pause_ms[p] = max(self.gc_pause_ms.get(p, 0.0), ms)
        self.idle += data.get("idle", 0)
        self.grants += data.get("grants", [])
        self.answers += data.get("answers", [])
        self.envelopes.update(data.get("envelopes", {}))
        self._sec = -1


def _keep_peak(by_process: dict, value: float) -> None:
    """The largest ``value`` this process has reported, under its pid."""
    key = str(os.getpid())
    if value > by_process.get(key, 0):
        by_process[key] = value
