"""In-process store: plain dicts on one event loop, so every method is atomic by construction
(no ``await`` between its first check and its last write). One service worker only; nothing
survives a restart."""

from __future__ import annotations

import itertools
import time

from hongbao.loadtests.service.errors import ALREADY_REFUNDED, EXPIRED, NOT_EXPIRED, SOLD_OUT, not_found, rejection
from hongbao.loadtests.service.stores import envelope_view, ledger_row, shares
from hongbao.loadtests.service.validation import EnvelopeSpec


class _Envelope:
    __slots__ = ("meta", "shares", "step", "users", "entries")

    def __init__(self, meta: dict, split: list[int] | None, seed: int):
        self.meta = meta
        self.shares: list[int] = split if split is not None else []  # pre_split: the whole split; on_grab: empty
        self.step = None if split is not None else shares.online_stepper(meta, seed)
        self.users: dict[str, tuple] = {}  # user -> (amount, seq, remaining_count after, request_id)
        self.entries: list[tuple] = []  # ledger: (kind, user, request_id, amount, seq, ts)


def _grab_answer(envelope_id: int, user: str, grab: tuple, repeat: bool) -> dict:
    amount, seq, left, request_id = grab
    return {
        "envelope_id": envelope_id,
        "user": user,
        "request_id": request_id,
        "amount_cents": amount,
        "seq": seq,
        "remaining_count": left,
        "repeat": repeat,
    }


def _entry(envelope_id: int, e: tuple) -> dict:
    return {
        "kind": e[0],
        "envelope_id": envelope_id,
        "user": e[1],
        "request_id": e[2],
        "amount_cents": e[3],
        "seq": e[4],
        "ts": e[5],
    }


class MemoryStore:
    """The embedded default store."""

    kind = "memory"

    def __init__(self, *, seed: int = 0):
        self.seed = seed
        self._ids = itertools.count(1)
        self._envelopes: dict[int, _Envelope] = {}

    async def open(self) -> None:
        shares.warm_up()

    async def close(self) -> None:
        return None

    async def health(self) -> dict:
        return {"ok": True, "store": self.kind}

    async def create(self, spec: EnvelopeSpec) -> dict:
        envelope_id = next(self._ids)
        split = shares.pre_split(spec, self.seed, envelope_id) if spec.mode == "pre_split" else None
        now = time.time()
        meta = {
            "id": envelope_id,
            "sender": spec.sender,
            "total_cents": spec.total_cents,
            "count": spec.count,
            "algorithm": spec.algorithm,
            "mode": spec.mode,
            "min_cents": spec.min_cents,
            "max_cents": spec.max_cents,
            "created_at": now,
            "expires_at": now + spec.expires_in_s,
            "remaining_cents": spec.total_cents,
            "remaining_count": spec.count,
            "refunded_cents": 0,
            "refunded": False,
        }
        self._envelopes[envelope_id] = _Envelope(meta, split, self.seed)
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
            return _grab_answer(envelope_id, user, prior, True)
        meta = env.meta
        now = time.time()
        if meta["refunded"] or now >= meta["expires_at"]:
            raise rejection(EXPIRED, envelope_id)
        left = meta["remaining_count"]
        if left == 0:
            raise rejection(SOLD_OUT, envelope_id)
        seq = meta["count"] - left
        remaining = meta["remaining_cents"]
        amount = env.shares[seq] if env.step is None else env.step(remaining, left, seq)
        meta["remaining_cents"] = remaining - amount
        meta["remaining_count"] = left - 1
        grab = env.users[user] = (amount, seq, left - 1, request_id)
        env.entries.append(("grab", user, request_id, amount, seq, now))
        return _grab_answer(envelope_id, user, grab, False)

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
        env.entries.append(("refund", meta["sender"], request_id, amount, None, now))
        return {
            "envelope_id": envelope_id,
            "sender": meta["sender"],
            "request_id": request_id,
            "refunded_cents": amount,
        }

    async def get(self, envelope_id: int) -> dict:
        env = self._find(envelope_id)
        out = envelope_view(env.meta)
        out["expired"] = env.meta["refunded"] or time.time() >= env.meta["expires_at"]
        out["grabs"] = [
            {"user": e[1], "amount_cents": e[3], "seq": e[4], "request_id": e[2], "ts": e[5]}
            for e in env.entries
            if e[0] == "grab"
        ]
        return out

    async def ledger(self, after_id: int = 0, limit: int | None = None) -> dict:
        ids = [i for i in self._envelopes if i > after_id]  # insertion order is id order
        more = limit is not None and len(ids) > limit
        ids = ids[:limit] if limit is not None else ids
        envelopes: list[dict] = []
        entries: list[dict] = []
        for i in ids:
            env = self._envelopes[i]
            envelopes.append(ledger_row(env.meta))
            entries.extend(_entry(i, e) for e in env.entries)
        return {"envelopes": envelopes, "entries": entries, "next_after_id": ids[-1] if more else None}
