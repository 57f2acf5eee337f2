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
PAIR_CHARS = 2 * PAIR_DIGITS


class OnlinePlan:
    """One envelope's chain of (remaining_cents, share) from the newest state this worker saw.

    Each pair is computed and packed once: ``text`` holds the chain's pairs already packed, so a
    window is a slice of it, not a fresh format of hundreds of numbers per call (that formatting
    was 15% of the service's CPU in a py-spy profile of on_grab under wrk)."""

    __slots__ = ("config", "step", "head", "cents", "pairs", "text")

    def __init__(self, config: dict, seed: int):
        self.config = config  # id, count, algorithm, min_cents, max_cents
        self.step = shares.online_stepper(config, seed)
        self.head = -1  # seq of the newest state seen (and of pairs[0])
        self.cents = 0  # remaining_cents at head
        self.pairs: list[tuple[int, int]] = []  # (remaining_cents before grab head+i, its share)
        self.text = ""  # the same pairs packed, PAIR_CHARS each

    def observe(self, seq: int, remaining_cents: int) -> None:
        """The envelope was at ``seq`` with ``remaining_cents`` left (a stale sighting is ignored)."""
        if seq < self.head:
            return
        offset, pairs = seq - self.head, self.pairs
        if offset < len(pairs):
            on_chain = pairs[offset][0] == remaining_cents
        else:
            on_chain = offset == len(pairs) and remaining_cents == (
                pairs[-1][0] - pairs[-1][1] if pairs else self.cents
            )
        if on_chain:
            del pairs[:offset]
            self.text = self.text[offset * PAIR_CHARS :]
        else:
            self.pairs, self.text = [], ""
        self.head, self.cents = seq, remaining_cents

    def window(self, size: int) -> list:
        """Script arguments: [head seq, packed pairs] with up to ``size`` pairs (fewer near the end)."""
        if self.head < 0:  # no state seen yet: nothing to offer (the script answers with the state)
            return ["", ""]
        count, pairs = self.config["count"], self.pairs
        size = min(size, count - self.head)
        if size <= 0:  # sold out as far as this worker knows: the script will say so
            return [self.head, ""]
        if len(pairs) < size:
            rem = pairs[-1][0] - pairs[-1][1] if pairs else self.cents
            seq, packed = self.head + len(pairs), []
            while len(pairs) < size:
                share = self.step(rem, count - seq, seq)
                if not 0 <= share <= rem < 10**PAIR_DIGITS:  # never send a field that breaks the layout
                    raise RuntimeError(f"online step gave share {share} for remaining {rem} at seq {seq}")
                pairs.append((rem, share))
                packed.append(f"{rem:016d}{share:016d}")
                rem, seq = rem - share, seq + 1
            self.text += "".join(packed)
        text = self.text
        return [self.head, text if len(text) == size * PAIR_CHARS else text[: size * PAIR_CHARS]]

    def pairs_of(self, window: list) -> list[tuple[int, int]]:
        """Decode a window (for tests and debugging)."""
        text, w = window[1], PAIR_DIGITS
        return [(int(text[i : i + w]), int(text[i + w : i + 2 * w])) for i in range(0, len(text), 2 * w)]
