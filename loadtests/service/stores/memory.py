"""In-process store: plain dicts on one event loop, so every method is atomic by construction
(no ``await`` between its first check and its last write). One service worker only; nothing
survives a restart."""
from __future__ import annotations

import itertools
import time

from loadtests.service.errors import (ALREADY_REFUNDED, EXPIRED, NOT_EXPIRED, SOLD_OUT, not_found,
                                      rejection)
from loadtests.service.stores import envelope_view, ledger_row, shares
from loadtests.service.validation import EnvelopeSpec


class _Envelope:
    __slots__ = ("meta", "shares", "users", "entries")

    def __init__(self, meta: dict, split: list[int] | None):
        self.meta = meta
        self.shares = split        # pre_split: the whole split; on_grab: None
        self.users: dict[str, dict] = {}   # user -> grab answer (without "repeat")
        self.entries: list[dict] = []      # this envelope's ledger entries, in order


class MemoryStore:
    """The embedded default store."""

    kind = "memory"

    def __init__(self, *, seed: int = 0):
        self.seed = seed
        self._ids = itertools.count(1)
        self._envelopes: dict[int, _Envelope] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def health(self) -> dict:
        return {"ok": True, "store": self.kind}

    async def create(self, spec: EnvelopeSpec) -> dict:
        envelope_id = next(self._ids)
        split = shares.pre_split(spec, self.seed, envelope_id) if spec.mode == "pre_split" else None
        now = time.time()
        meta = {"id": envelope_id, "sender": spec.sender, "total_cents": spec.total_cents,
                "count": spec.count, "algorithm": spec.algorithm, "mode": spec.mode,
                "min_cents": spec.min_cents, "max_cents": spec.max_cents, "created_at": now,
                "expires_at": now + spec.expires_in_s, "remaining_cents": spec.total_cents,
                "remaining_count": spec.count, "refunded_cents": 0, "refunded": False}
        self._envelopes[envelope_id] = _Envelope(meta, split)
        return envelope_view(meta)

    def _find(self, envelope_id: int) -> _Envelope:
        env = self._envelopes.get(envelope_id)
        if env is None:
            raise not_found(envelope_id)
        return env

    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict:
        env = self._find(envelope_id)
        prior = env.users.get(user)
        if prior is not None:
            return {**prior, "repeat": True}
        meta = env.meta
        now = time.time()
        if meta["refunded"] or now >= meta["expires_at"]:
            raise rejection(EXPIRED, envelope_id)
        left = meta["remaining_count"]
        if left == 0:
            raise rejection(SOLD_OUT, envelope_id)
        seq = meta["count"] - left
        if env.shares is not None:
            amount = env.shares[seq]
        else:
            amount = shares.on_grab(meta, self.seed, meta["remaining_cents"], left, seq)
        meta["remaining_cents"] -= amount
        meta["remaining_count"] = left - 1
        grab = {"envelope_id": envelope_id, "user": user, "request_id": request_id,
                "amount_cents": amount, "seq": seq, "remaining_count": left - 1}
        env.users[user] = grab
        env.entries.append({"kind": "grab", "envelope_id": envelope_id, "user": user,
                            "request_id": request_id, "amount_cents": amount, "seq": seq, "ts": now})
        return {**grab, "repeat": False}

    async def refund(self, envelope_id: int, request_id: str | None) -> dict:
        env = self._find(envelope_id)
        meta = env.meta
        if meta["refunded"]:
            raise rejection(ALREADY_REFUNDED, envelope_id)
        now = time.time()
        if now < meta["expires_at"]:
            raise rejection(NOT_EXPIRED, envelope_id)
        amount = meta["remaining_cents"]
        request_id = request_id or f"refund-{envelope_id}"
        meta.update(refunded=True, refunded_cents=amount, remaining_cents=0)
        env.shares = [] if env.shares is not None else None
        env.entries.append({"kind": "refund", "envelope_id": envelope_id, "user": meta["sender"],
                            "request_id": request_id, "amount_cents": amount, "seq": None, "ts": now})
        return {"envelope_id": envelope_id, "sender": meta["sender"], "request_id": request_id,
                "refunded_cents": amount}

    async def get(self, envelope_id: int) -> dict:
        env = self._find(envelope_id)
        out = envelope_view(env.meta)
        out["expired"] = env.meta["refunded"] or time.time() >= env.meta["expires_at"]
        out["grabs"] = [{"user": e["user"], "amount_cents": e["amount_cents"], "seq": e["seq"],
                         "request_id": e["request_id"], "ts": e["ts"]}
                        for e in env.entries if e["kind"] == "grab"]
        return out

    async def ledger(self, after_id: int = 0, limit: int | None = None) -> dict:
        ids = [i for i in self._envelopes if i > after_id]  # insertion order is id order
        more = limit is not None and len(ids) > limit
        ids = ids[:limit] if limit is not None else ids
        envelopes, entries = [], []
        for i in ids:
            env = self._envelopes[i]
            envelopes.append(ledger_row(env.meta))
            entries.extend(env.entries)
        return {"envelopes": envelopes, "entries": entries, "next_after_id": ids[-1] if more else None}
