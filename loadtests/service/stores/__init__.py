"""Stores behind one short async protocol; the app never asks which one it has.

``open_store(url, seed=0)`` picks one from a URL:

* ``memory`` - in-process dicts, atomic by construction (one event loop); one worker only.
* ``redis://HOST:PORT/DB`` - Redis, Lua scripts: grabs batched (stores/batcher.py), one per refund.
* ``redis+cluster://HOST:PORT`` - the same store on a Redis Cluster (keys carry ``{env:ID}`` tags).
* ``python:MODULE:CLASS`` - any class with the protocol, built as ``CLASS(url=..., seed=...)``
  (for test-only stores, e.g. a planted defect the audit must catch).

Answers are plain dicts shaped as the HTTP contract (loadtests/service/openapi.py).
"""

from __future__ import annotations

import importlib
from typing import Protocol

from hongbao.loadtests.service.validation import EnvelopeSpec


class Store(Protocol):
    kind: str  # "memory" | "redis" | ...: what /healthz reports

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def create(self, spec: EnvelopeSpec) -> dict: ...
    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict: ...
    async def get(self, envelope_id: int) -> dict: ...
    async def refund(self, envelope_id: int, request_id: str | None) -> dict: ...
    async def ledger(self, after_id: int = 0, limit: int | None = None) -> dict: ...
    async def health(self) -> dict: ...


def open_store(url: str, *, seed: int = 0) -> Store:
    """Build (not yet connect) the store named by ``url``; ValueError says what is accepted."""
    if url == "memory":
        from hongbao.loadtests.service.stores.memory import MemoryStore

        return MemoryStore(seed=seed)
    if url.startswith(("redis://", "redis+cluster://")):
        from hongbao.loadtests.service.stores.redis_store import RedisStore

        return RedisStore(url, seed=seed)
    if url.startswith("python:"):
        parts = url.split(":")
        if len(parts) != 3:
            raise ValueError(f"--store python:MODULE:CLASS expected (got {url!r})")
        cls = getattr(importlib.import_module(parts[1]), parts[2])
        return cls(url=url, seed=seed)
    raise ValueError(
        f"--store must be memory, redis://HOST:PORT/DB, redis+cluster://HOST:PORT or python:MODULE:CLASS (got {url!r})"
    )


def envelope_view(meta: dict) -> dict:
    """The public fields of an envelope (create answer, GET, ledger) from stored values."""
    return {
        "id": meta["id"],
        "sender": meta["sender"],
        "total_cents": meta["total_cents"],
        "count": meta["count"],
        "algorithm": meta["algorithm"],
        "mode": meta["mode"],
        "min_cents": meta["min_cents"],
        "max_cents": meta["max_cents"],
        "created_at": meta["created_at"],
        "expires_at": meta["expires_at"],
        "remaining_cents": meta["remaining_cents"],
        "remaining_count": meta["remaining_count"],
        "refunded_cents": meta["refunded_cents"],
        "refunded": meta["refunded"],
    }


def ledger_row(meta: dict) -> dict:
    """The ledger's per-envelope summary."""
    keys = (
        "id",
        "sender",
        "total_cents",
        "count",
        "remaining_cents",
        "remaining_count",
        "refunded_cents",
        "algorithm",
        "mode",
    )
    return {k: meta[k] for k in keys}
