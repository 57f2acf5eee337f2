"""Redis store: grabs go through grab.lua in batches (stores/batcher.py: one script call per
batch, or per envelope pipelined per node on a Cluster), each grab still dedupe + take share +
ledger append atomically; one refund.lua call per refund.

Keys of envelope ID share the hash tag ``{env:ID}`` (one Cluster slot)::

    hb:{env:ID}:meta    hash: sender, totals, algorithm, mode, limits, remaining_*, seq, refunded...
    hb:{env:ID}:users   hash: user -> "amount|seq|remaining_count_after|request_id|ts"
    hb:{env:ID}:shares  list: the pre-split shares still to grab (pre_split only)
    hb:{env:ID}:ledger  list: "g|user|amount|seq|left|request_id|ts" and "r|sender|amount|request_id|ts"
    hb:envelope_id      INCR counter for new ids
    hb:envelopes        sorted set of ids (the ledger's index), written in ONE MULTI/EXEC with the
                        envelope's keys, so a crash leaves the whole envelope or nothing (on a
                        Cluster it is written first; an id there without a meta hash is skipped).

on_grab is compare-and-set (stores/online_plan.py): Python chains ``kernels.next_share`` forward
from the last state it saw and offers a window of (remaining_cents, share) pairs; the script
applies the pair matching the current seq and remaining_cents, else returns the state to
recompute from. Amounts stay exact integers (decimal strings, HINCRBY); totals are limited to
10**12 < 2**53, so the script's sums are exact too.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from hongbao.loadtests.service.errors import (
    ALREADY_REFUNDED,
    EXPIRED,
    NOT_EXPIRED,
    SOLD_OUT,
    ApiError,
    not_found,
    rejection,
)
from hongbao.loadtests.service.stores import envelope_view, ledger_row, shares
from hongbao.loadtests.service.stores.batcher import GrabBatcher, parse_state, script_keys
from hongbao.loadtests.service.stores.online_plan import OnlinePlan
from hongbao.loadtests.service.validation import EnvelopeSpec

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"
ID_KEY = "hb:envelope_id"
INDEX_KEY = "hb:envelopes"
PUSH_CHUNK = 10_000  # shares per RPUSH at creation
SNAPSHOT_BATCH = 256  # envelopes per pipeline when reading the ledger
MAX_CAS_ATTEMPTS = 1_000  # on_grab retries before giving up with 503 (never seen in practice)
HEALTH_TTL_S = 1.0  # /healthz answers from a PING at most this old (one round trip a second)
_REJECT = {
    "expired": EXPIRED,
    "sold_out": SOLD_OUT,
    "already_refunded": ALREADY_REFUNDED,
    "not_expired": NOT_EXPIRED,
    "e": EXPIRED,
    "s": SOLD_OUT,
}  # long: refund.lua; short: grab.lua
_INT_FIELDS = ("total_cents", "count", "min_cents", "remaining_cents", "remaining_count", "refunded_cents", "seq")


def keys(envelope_id: int) -> dict[str, str]:
    """The Redis keys of one envelope (all in the slot of ``{env:ID}``)."""
    return dict(zip(("meta", "users", "shares", "ledger"), script_keys(envelope_id), strict=True))


def _script(name: str) -> tuple[str, str]:
    source = (LUA_DIR / f"{name}.lua").read_text()
    return source, hashlib.sha1(source.encode()).hexdigest()


def _unavailable(method):
    """Turn a Redis failure (down, timeout, refused) into 503 store_unavailable; on a Cluster also
    wait for a free connection (its client raises instead of waiting when all are busy)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            if self._gate is None:
                return await method(self, *args, **kwargs)
            async with self._gate:
                return await method(self, *args, **kwargs)
        except RedisError as exc:
            self._healthy_until = 0.0  # the next /healthz asks Redis again
            raise ApiError(503, "store_unavailable", f"redis store failed: {type(exc).__name__}: {exc}") from exc

    return wrapper


class RedisStore:
    """The production-like store; ``url`` is ``redis://HOST:PORT/DB`` or ``redis+cluster://HOST:PORT``."""

    kind = "redis"

    def __init__(self, url: str, *, seed: int = 0, max_connections: int = 128):
        self.url = url
        self.seed = seed
        self.cluster = url.startswith("redis+cluster://")
        self.max_connections = max_connections
        self._client: Any = None  # aioredis.Redis or RedisCluster once open() ran
        self._batcher: GrabBatcher | None = None
        self._gate = asyncio.Semaphore(max_connections) if self.cluster else None
        self._scripts = {n: _script(n) for n in ("grab", "refund", "snapshot")}
        self._plans: dict[int, OnlinePlan] = {}  # on_grab envelope -> predicted shares
        self._loading: dict[int, asyncio.Future] = {}  # envelope -> its plan being built
        self._healthy_until = 0.0  # time.monotonic() until which the last PING holds

    async def open(self) -> None:
        shares.warm_up()
        if self.cluster:
            self._client = RedisCluster.from_url(
                "redis://" + self.url.split("://", 1)[1], decode_responses=True, max_connections=self.max_connections
            )
            await self._client.initialize()
        else:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, decode_responses=True, max_connections=self.max_connections, timeout=10
            )
            self._client = aioredis.Redis(connection_pool=pool)
        await self._client.ping()
        if self.cluster:  # SCRIPT LOAD goes to every primary: pipelined EVALSHA finds it there
            await self._client.script_load(self._scripts["grab"][0])
        self._batcher = GrabBatcher(self._client, self._plans, self._scripts["grab"], cluster=self.cluster)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self, name: str, keys_: list[str], args: list) -> list:
        source, sha = self._scripts[name]
        try:
            return await self._client.evalsha(sha, len(keys_), *keys_, *args)
        except NoScriptError:  # first use on this server (or after a restart): send the source
            return await self._client.eval(source, len(keys_), *keys_, *args)

    @_unavailable
    async def health(self) -> dict:
        """Ok while a PING answered within HEALTH_TTL_S and no call has failed since: /healthz
        polled at wrk's rate cost a round trip each (9.3k/s against 35.6k/s on memory)."""
        if time.monotonic() >= self._healthy_until:
            await self._client.ping()
            self._healthy_until = time.monotonic() + HEALTH_TTL_S
        return {"ok": True, "store": self.kind}

    @_unavailable
    async def create(self, spec: EnvelopeSpec) -> dict:
        c = self._client
        envelope_id = int(await c.incr(ID_KEY))  # an id burnt by a crash after this is harmless
        k = keys(envelope_id)
        now = float(await _server_time(c))
        meta = {
            "sender": spec.sender,
            "total_cents": spec.total_cents,
            "count": spec.count,
            "algorithm": spec.algorithm,
            "mode": spec.mode,
            "min_cents": spec.min_cents,
            "max_cents": "" if spec.max_cents is None else spec.max_cents,
            "created_at": repr(now),
            "expires_at": repr(now + spec.expires_in_s),
            "remaining_cents": spec.total_cents,
            "remaining_count": spec.count,
            "refunded_cents": 0,
            "refunded": 0,
            "seq": 0,
        }
        # All or nothing: on one server, MULTI/EXEC (Redis discards a MULTI whose client dies before
        # EXEC, and on restart drops a transaction cut short at the end of the AOF). On a Cluster the
        # index lives in another slot: it is written first and the meta hash last (an id without its
        # meta hash is skipped by the ledger).
        pipe = c.pipeline(transaction=not self.cluster)
        if self.cluster:
            await c.zadd(INDEX_KEY, {str(envelope_id): envelope_id})
        else:
            pipe.zadd(INDEX_KEY, {str(envelope_id): envelope_id})
        if spec.mode == "pre_split":
            split = shares.pre_split(spec, self.seed, envelope_id)
            for start in range(0, len(split), PUSH_CHUNK):
                pipe.rpush(k["shares"], *split[start : start + PUSH_CHUNK])
        pipe.hset(k["meta"], mapping=meta)  # last: on a Cluster the envelope exists once complete
        await pipe.execute()
        return envelope_view(_decode_meta(envelope_id, {n: str(v) for n, v in meta.items()}))

    @_unavailable
    async def grab(self, envelope_id: int, user: str, request_id: str) -> dict:
        batcher = self._batcher
        if batcher is None:
            raise RuntimeError("RedisStore.grab before open()")
        for _ in range(MAX_CAS_ATTEMPTS):
            entry, state = await batcher.grab(envelope_id, user, request_id)
            tag = entry[0]
            if tag == "o" or tag == "r":
                amount, grab_seq, left, first_request_id, _ts = entry[1:].split("|")
                return {
                    "envelope_id": envelope_id,
                    "user": user,
                    "request_id": first_request_id,
                    "amount_cents": int(amount),
                    "seq": int(grab_seq),
                    "remaining_count": int(left),
                    "repeat": tag == "r",
                }
            if tag == "x":  # on_grab: the state moved on (or first sight): recompute from it
                cents, _, seq = parse_state(state)
                (await self._plan_at(envelope_id, seq, cents)).observe(seq, cents)
                continue
            if tag == "n":
                raise not_found(envelope_id)
            self._plans.pop(envelope_id, None)
            raise rejection(_REJECT[tag], envelope_id)
        raise ApiError(503, "store_busy", f"envelope {envelope_id}: on_grab compare-and-set kept losing")

    async def _plan_at(self, envelope_id: int, seq: int, cents: int) -> OnlinePlan:
        """The envelope's plan, new if none or if the store went back behind it (restarted empty,
        id reused); built once (one HMGET) however many grabs ask at once, as at first sight."""
        plan = self._plans.get(envelope_id)
        if plan is not None and seq >= plan.head:
            return plan
        loading = self._loading.get(envelope_id)
        if loading is None:
            loading = self._loading[envelope_id] = asyncio.ensure_future(self._new_plan(envelope_id, seq, cents))
            loading.add_done_callback(lambda _: self._loading.pop(envelope_id, None))
        return await asyncio.shield(loading)

    async def _new_plan(self, envelope_id: int, seq: int, cents: int) -> OnlinePlan:
        """A plan from the envelope's config, published only once it holds a state (seq, cents):
        the batcher builds windows from any published plan."""
        fields = ("algorithm", "min_cents", "max_cents", "count")
        algorithm, m, M, count = await self._client.hmget(keys(envelope_id)["meta"], *fields)
        if algorithm is None:
            raise not_found(envelope_id)
        if len(self._plans) > 10_000:  # bound the cache; a miss costs one round trip
            self._plans.clear()
        config = {
            "id": envelope_id,
            "algorithm": algorithm,
            "min_cents": int(m),
            "max_cents": int(M) if M else None,
            "count": int(count),
        }
        plan = OnlinePlan(config, self.seed)
        plan.observe(seq, cents)
        self._plans[envelope_id] = plan
        return plan

    @_unavailable
    async def refund(self, envelope_id: int, request_id: str | None) -> dict:
        k = keys(envelope_id)
        request_id = request_id or f"refund-{envelope_id}"
        res = await self._run("refund", [k["meta"], k["shares"], k["ledger"]], [request_id])
        if res[0] == "not_found":
            raise not_found(envelope_id)
        if res[0] != "ok":
            raise rejection(_REJECT[res[0]], envelope_id)
        self._plans.pop(envelope_id, None)
        return {"envelope_id": envelope_id, "sender": res[2], "request_id": request_id, "refunded_cents": int(res[1])}

    @_unavailable
    async def get(self, envelope_id: int) -> dict:
        k = keys(envelope_id)
        flat, entries, (seconds, micros) = await self._run("snapshot", [k["meta"], k["ledger"]], [])
        if not flat:
            raise not_found(envelope_id)
        meta = _decode_meta(envelope_id, dict(zip(flat[::2], flat[1::2], strict=True)))
        out = envelope_view(meta)
        now = int(seconds) + int(micros) / 1e6
        out["expired"] = meta["refunded"] or now >= meta["expires_at"]
        out["grabs"] = [
            {n: e[n] for n in ("user", "amount_cents", "seq", "request_id", "ts")}
            for e in (_decode_entry(envelope_id, x) for x in entries)
            if e["kind"] == "grab"
        ]
        return out

    @_unavailable
    async def ledger(self, after_id: int = 0, limit: int | None = None) -> dict:
        c = self._client
        ids = [
            int(i)
            for i in await c.zrangebyscore(
                INDEX_KEY, f"({after_id}", "+inf", start=0, num=-1 if limit is None else limit + 1
            )
        ]
        more = limit is not None and len(ids) > limit
        ids = ids[:limit] if limit is not None else ids
        source = self._scripts["snapshot"][0]
        envelopes: list[dict] = []
        entries: list[dict] = []
        for start in range(0, len(ids), SNAPSHOT_BATCH):
            batch = ids[start : start + SNAPSHOT_BATCH]
            pipe = c.pipeline(transaction=False)
            for i in batch:
                k = keys(i)
                pipe.eval(source, 2, k["meta"], k["ledger"])
            for i, (flat, raw, _now) in zip(batch, await pipe.execute(), strict=True):
                if not flat:
                    continue  # indexed but never completed: holds no money
                envelopes.append(ledger_row(_decode_meta(i, dict(zip(flat[::2], flat[1::2], strict=True)))))
                entries.extend(_decode_entry(i, x) for x in raw)
        return {"envelopes": envelopes, "entries": entries, "next_after_id": ids[-1] if more else None}


async def _server_time(client) -> str:
    """Redis's own clock (the one grab.lua and refund.lua judge expiry by), as 'seconds.micros'."""
    if isinstance(client, RedisCluster):
        seconds, micros = await client.time(target_nodes=RedisCluster.RANDOM)
    else:
        seconds, micros = await client.time()
    return f"{seconds}.{micros:06d}"


def _decode_meta(envelope_id: int, h: dict) -> dict:
    meta = {
        "id": envelope_id,
        "sender": h["sender"],
        "algorithm": h["algorithm"],
        "mode": h["mode"],
        "max_cents": int(h["max_cents"]) if h["max_cents"] else None,
        "created_at": float(h["created_at"]),
        "expires_at": float(h["expires_at"]),
        "refunded": h["refunded"] == "1",
    }
    meta.update({n: int(h[n]) for n in _INT_FIELDS})
    return meta


def _decode_entry(envelope_id: int, raw: str) -> dict:
    parts = raw.split("|")
    if parts[0] == "g":
        _, user, amount, seq, _left, request_id, ts = parts
        return {
            "kind": "grab",
            "envelope_id": envelope_id,
            "user": user,
            "request_id": request_id,
            "amount_cents": int(amount),
            "seq": int(seq),
            "ts": float(ts),
        }
    _, sender, amount, request_id, ts = parts
    return {
        "kind": "refund",
        "envelope_id": envelope_id,
        "user": sender,
        "request_id": request_id,
        "amount_cents": int(amount),
        "seq": None,
        "ts": float(ts),
    }
