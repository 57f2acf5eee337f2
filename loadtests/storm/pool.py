"""The envelopes one Locust worker process can grab (no Locust import: unit-testable)."""

from __future__ import annotations

import random
from collections import deque


class EnvelopePool:
    """The envelopes this worker process knows (ids as the adapter returned them): hot ones (shared
    by every worker, opened at ``release_at``) and recent open cold ones created by this process's
    senders (a closed one leaves the pool)."""

    def __init__(self, pool_size: int) -> None:
        self.hot: list = []
        self.release_at = 0.0
        self.cold: deque = deque(maxlen=pool_size)
        self.closed: set = set()  # sold out or expired
        self.run_tag = "r0"  # set by the master at test start

    def set_run(self, run_tag: str) -> None:
        self.run_tag = run_tag

    def set_hot(self, ids: list, release_at: float) -> None:
        self.hot = list(ids)
        self.release_at = float(release_at)

    def add_cold(self, envelope_id: str | int) -> None:
        self.cold.append(envelope_id)

    def close(self, envelope_id: str | int) -> None:
        if envelope_id not in self.closed:
            self.closed.add(envelope_id)
            try:
                self.cold.remove(envelope_id)  # keeps picks from drawing closed envelopes
            except ValueError:
                pass

    def pick(self, rng: random.Random, tried: set, hot_share: float, now: float) -> str | int | None:
        """An envelope this user has not tried yet, hot first with probability ``hot_share``."""
        hot_open = now >= self.release_at
        hot = [i for i in self.hot if i not in tried and i not in self.closed] if hot_open else []
        if hot_share >= 1.0 and not hot_open and any(i not in self.closed for i in self.hot):
            return None  # a herd: everyone waits for the hot envelope to open
        if hot and (rng.random() < hot_share or not self.cold):
            return rng.choice(hot)
        cold = self.cold
        for _ in range(8):
            if not cold:
                break
            i = cold[rng.randrange(len(cold))]
            if i not in tried and i not in self.closed:
                return i
        for i in reversed(cold):
            if i not in tried and i not in self.closed:
                return i
        return rng.choice(hot) if hot else None

    def idle_s(self, now: float) -> float:
        """How long a grabber with nothing to grab waits before looking again."""
        if self.hot and now < self.release_at:
            return max(0.0, min(self.release_at - now, 0.05))
        return 0.01
