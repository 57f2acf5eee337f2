"""Test-only defective stores for the post-storm audit: plugged into the real service with
``hongbao serve --store python:tests.support.planted_stores:CLASS`` (or ``hongbao storm --store``).
Each one breaks exactly one invariant that a correct store keeps; the audit must catch it."""

from __future__ import annotations

from hongbao.loadtests.service.stores.memory import MemoryStore


class LosingCentStore(MemoryStore):
    """The first grab of every envelope loses one cent: it leaves the envelope's remaining
    balance but is in nobody's grab (conservation broken)."""

    kind = "planted-losing-cent"

    def __init__(self, *, url: str = "", seed: int = 0) -> None:
        super().__init__(seed=seed)

    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict:
        out = await super().grab(envelope_id, user, request_id)
        meta = self._envelopes[envelope_id].meta
        if not out["repeat"] and out["seq"] == 0 and meta["remaining_count"] > 0:
            meta["remaining_cents"] -= 1
        return out


class DoubleGrabStore(MemoryStore):
    """Forgets who already grabbed: a retried grab (same user, same request_id) is granted a
    second share instead of the first grab again (no double grab broken)."""

    kind = "planted-double-grab"

    def __init__(self, *, url: str = "", seed: int = 0) -> None:
        super().__init__(seed=seed)

    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict:
        env = self._find(envelope_id)
        env.users.pop(user, None)
        return await super().grab(envelope_id, user, request_id)


class PhantomAckStore(MemoryStore):
    """Every 200th grab is acknowledged (200, one cent) but never recorded: an acknowledged grab
    missing from the ledger, the soak checker's lost ack."""

    kind = "planted-phantom-ack"

    def __init__(self, *, url: str = "", seed: int = 0) -> None:
        super().__init__(seed=seed)
        self._calls = 0

    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict:
        self._calls += 1
        if self._calls % 200:
            return await super().grab(envelope_id, user, request_id)
        self._find(envelope_id)
        return {
            "envelope_id": envelope_id,
            "user": user,
            "request_id": request_id,
            "amount_cents": 1,
            "seq": 10**6,
            "remaining_count": 0,
            "repeat": False,
        }


class SilentRefundStore(MemoryStore):
    """Answers every refund as done without refunding anything: the remainder stays in the
    envelope (money still conserved), but no expired envelope is ever refunded."""

    kind = "planted-silent-refund"

    def __init__(self, *, url: str = "", seed: int = 0) -> None:
        super().__init__(seed=seed)

    async def refund(self, envelope_id: int, request_id: str | None) -> dict:
        meta = self._find(envelope_id).meta
        return {
            "envelope_id": envelope_id,
            "sender": meta["sender"],
            "request_id": request_id or "",
            "refunded_cents": meta["remaining_cents"],
        }
