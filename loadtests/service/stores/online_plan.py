"""Predicted on_grab shares for the Redis store's compare-and-set grab.

Grab number ``seq`` of an on_grab envelope gets ``kernels.next_share(remaining_cents,
count - seq, step=seq)``. A worker that last saw the state (seq, remaining_cents) can chain the
online step forward and offer the script a window of pairs (remaining_cents before grab i,
share i) for i = seq, seq+1, ...; grab.lua applies the pair whose seq AND remaining_cents match
the envelope's current state, else answers with the state to recompute from. The pairs travel
as one string of fixed-width decimal fields (PAIR_DIGITS each), so the script reads pair i in O(1)
and a wide window costs one argument, not hundreds. Every share applied
was computed by the online form from exactly the state it is applied to, and hundreds of
concurrent grabs on one hot envelope need a few round trips, not one each per rival.
"""
from __future__ import annotations

from hongbao.loadtests.service.stores import shares

PAIR_DIGITS = 16  # per number; amounts are <= 10**12 (validation.MAX_TOTAL_CENTS)


class OnlinePlan:
    """One envelope's chain of (remaining_cents, share) from the newest state this worker saw."""

    __slots__ = ("config", "step", "head", "pairs", "_packed", "_packed_head")

    def __init__(self, config: dict, seed: int):
        self.config = config          # id, count, algorithm, min_cents, max_cents
        self.step = shares.online_stepper(config, seed)
        self.head = -1                # seq of pairs[0]
        self.pairs: list[list[int]] = []   # [remaining_cents_before, share | -1 not computed yet]
        self._packed, self._packed_head = "", -1

    def observe(self, seq: int, remaining_cents: int) -> None:
        """The envelope was at ``seq`` with ``remaining_cents`` left (a stale sighting is ignored)."""
        if seq < self.head:
            return
        offset = seq - self.head
        if offset < len(self.pairs) and self.pairs[offset][0] == remaining_cents:
            del self.pairs[:offset]
        else:
            self.pairs = [[remaining_cents, -1]]
        self.head = seq

    def window(self, size: int) -> list:
        """Script arguments: [head seq, packed pairs] with up to ``size`` pairs (fewer near the end)."""
        count = self.config["count"]
        size = min(size, count - self.head)
        if size <= 0:  # sold out as far as this worker knows: the script will say so
            return [self.head, ""]
        if self._packed_head == self.head and len(self._packed) >= size * 2 * PAIR_DIGITS:
            return [self.head, self._packed]  # concurrent grabs share one window
        pairs = self.pairs
        while True:
            rem, share = pairs[-1]
            seq = self.head + len(pairs) - 1
            if share < 0:
                share = pairs[-1][1] = self.step(rem, count - seq, seq)
                if not 0 <= share <= rem < 10**PAIR_DIGITS:  # never send a field that breaks the layout
                    raise RuntimeError(f"online step gave share {share} for remaining {rem} at seq {seq}")
            if len(pairs) >= size or seq + 1 >= count:
                break
            pairs.append([rem - share, -1])
        self._packed = "".join(f"{rem:016d}{share:016d}" for rem, share in pairs[:size])
        self._packed_head = self.head
        return [self.head, self._packed]

    def pairs_of(self, window: list) -> list[tuple[int, int]]:
        """Decode a window (for tests and debugging)."""
        text, w = window[1], PAIR_DIGITS
        return [(int(text[i:i + w]), int(text[i + w:i + 2 * w])) for i in range(0, len(text), 2 * w)]
