"""What a storm's Locust process has seen: per-name microsecond histograms, a per-second timeline,
per-second grab latencies and per-user grab counts. No Locust import here, so the step-ramp stop
rule (loadtests/storm/ramp_stop.py) and tests can use it in-process; recorder.py feeds it events."""
from __future__ import annotations

import time

from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.outcomes import GRAB, GRAB_NAMES, REPEAT


class Recording:
    """What one process has seen since its last report (workers) or in total (master/local)."""

    def __init__(self) -> None:
        self.hist: dict[str, Histogram] = {}
        self.timeline: dict[int, dict[str, list[int]]] = {}   # epoch second -> name -> [n, failures]
        self.grab_hist: dict[int, Histogram] = {}             # epoch second -> grab latencies
        self.attempts: dict[str, int] = {}                    # user -> grab requests sent
        self.grabbed: dict[str, int] = {}                     # user -> new grabs acknowledged
        self.grants: list[list] = []                          # [envelope id, user, amount_cents] per grant
        self.envelopes: dict[str, list[int]] = {}             # envelope id -> [total, count, min] (created)

    def add(self, name: str, response_time_ms: float, failed: bool, user_id: str | None,
            context: dict | None = None) -> None:
        """One request; ``context`` may carry what the adapter said: ``grant`` [envelope id,
        amount_cents] or ``envelope`` [id, total_cents, count, min_cents] (users.py)."""
        self.hist.setdefault(name, Histogram()).record(response_time_ms)
        sec = int(time.time())
        row = self.timeline.setdefault(sec, {}).setdefault(name, [0, 0])
        row[0] += 1
        row[1] += int(failed)
        if name in GRAB_NAMES:
            self.grab_hist.setdefault(sec, Histogram()).record(response_time_ms)
            if user_id and name != REPEAT:    # a client retry is not a new attempt
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

    def to_json(self) -> dict:
        return {
            "hist": {k: h.to_json() for k, h in self.hist.items()},
            "timeline": {str(s): v for s, v in self.timeline.items()},
            "grab_hist": {str(s): h.to_json() for s, h in self.grab_hist.items()},
            "attempts": self.attempts,
            "grabbed": self.grabbed,
            "grants": self.grants,
            "envelopes": self.envelopes,
        }

    def merge_json(self, data: dict) -> None:
        for k, h in data.get("hist", {}).items():
            self.hist.setdefault(k, Histogram()).merge({int(b): c for b, c in h.items()})
        for s, names in data.get("timeline", {}).items():
            dst = self.timeline.setdefault(int(s), {})
            for name, (n, f) in names.items():
                row = dst.setdefault(name, [0, 0])
                row[0] += n
                row[1] += f
        for s, h in data.get("grab_hist", {}).items():
            self.grab_hist.setdefault(int(s), Histogram()).merge({int(b): c for b, c in h.items()})
        for key in ("attempts", "grabbed"):
            dst = getattr(self, key)
            for u, n in data.get(key, {}).items():
                dst[u] = dst.get(u, 0) + n
        self.grants += data.get("grants", [])
        self.envelopes.update(data.get("envelopes", {}))
