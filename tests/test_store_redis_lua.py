"""grab.lua's compare-and-set, driven directly: a candidate share is applied only when both the
seq and remaining_cents it was computed from match; otherwise nothing is written."""
from __future__ import annotations

import asyncio

import pytest

from hongbao.loadtests.service.stores.redis_store import LUA_DIR, RedisStore, keys
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.redis_server import redis_proc, redis_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.redis


def _pack(*pairs: tuple[int, int]) -> str:
    return "".join(f"{r:016d}{s:016d}" for r, s in pairs)


def _state(client, envelope_id: int) -> tuple:
    k = keys(envelope_id)
    return (client.hgetall(k["meta"]), client.hgetall(k["users"]), client.lrange(k["ledger"], 0, -1))


def test_grab_script_compare_and_set(redis_proc, redis_url):
    async def create():
        store = RedisStore(redis_url, seed=0)
        await store.open()
        env = await store.create(EnvelopeSpec("boss", 1_000, 4, "double_mean", "on_grab", 1, None, 60.0))
        await store.close()
        return env["id"]
    envelope_id = asyncio.run(create())
    client = redis_proc.client()
    grab = client.register_script((LUA_DIR / "grab.lua").read_text())
    k = keys(envelope_id)
    script_keys = [k["meta"], k["users"], k["shares"], k["ledger"]]
    before = _state(client, envelope_id)
    for seq, packed in [("", ""), ("1", _pack((1_000, 300))), ("0", _pack((999, 300))), ("0", "garbage")]:
        assert grab(keys=script_keys, args=["alice", "r1", seq, packed]) == ["retry", "1000", "4", "0"]
        assert _state(client, envelope_id) == before, f"a refused candidate wrote something ({seq!r})"
    # the second pair of a window is used when the envelope is one grab further on
    ok = grab(keys=script_keys, args=["alice", "r1", "0", _pack((1_000, 300), (700, 50))])
    assert ok[0] == "ok" and ok[1].startswith("300|0|3|r1|") and ok[2] == 700
    ok = grab(keys=script_keys, args=["bob", "r2", "0", _pack((1_000, 300), (700, 50))])
    assert ok[0] == "ok" and ok[1].startswith("50|1|2|r2|") and ok[2] == 650
    repeat = grab(keys=script_keys, args=["bob", "r3", "0", _pack((1_000, 1))])
    assert repeat == ["repeat", ok[1]]
    meta = client.hgetall(k["meta"])
    assert (meta["remaining_cents"], meta["remaining_count"], meta["seq"]) == ("650", "2", "2")
    assert len(client.lrange(k["ledger"], 0, -1)) == 2


def test_batched_scripts_survive_script_flush_and_report_a_dead_server():
    """After SCRIPT FLUSH (as after a restart) batched grabs fall back to EVAL; a dead server makes
    every waiting grab fail as 503 store_unavailable (never a hang), and the store recovers."""
    from hongbao.loadtests.service.errors import ApiError
    from tests.support.redis_server import redis_server

    async def main(server):
        store = RedisStore(server.url, seed=0)
        await store.open()
        try:
            spec = EnvelopeSpec("boss", 10_000, 100, "double_mean", "on_grab", 1, None, 60.0)
            env = await store.create(spec)
            server.client().script_flush()
            done = await asyncio.gather(*(store.grab(env["id"], f"u{i}", "r") for i in range(20)))
            assert sorted(g["seq"] for g in done) == list(range(20))
            server.kill()
            failed = await asyncio.wait_for(asyncio.gather(
                *(store.grab(env["id"], f"v{i}", "r") for i in range(20)), return_exceptions=True), 30)
            assert all(isinstance(f, ApiError) and f.status == 503 and f.code == "store_unavailable"
                       for f in failed), failed
            server.start()  # empty again (no persistence in this test)
            env = await store.create(spec)
            assert (await store.grab(env["id"], "w", "r"))["seq"] == 0
        finally:
            await store.close()

    with redis_server() as server:
        asyncio.run(main(server))


def test_health_pings_at_most_once_a_ttl_and_sees_a_dead_server():
    """/healthz answers from a PING at most HEALTH_TTL_S old (wrk polling it no longer costs a
    round trip per call), yet a dead server is reported: at once after any failed call, else
    within the TTL."""
    import time

    from hongbao.loadtests.service.errors import ApiError
    from hongbao.loadtests.service.stores.redis_store import HEALTH_TTL_S
    from tests.support.redis_server import redis_server

    async def main(server):
        store = RedisStore(server.url, seed=0)
        await store.open()
        try:
            calls0 = int(server.client().info("stats")["total_commands_processed"])
            for _ in range(200):
                assert await store.health() == {"ok": True, "store": "redis"}
            calls = int(server.client().info("stats")["total_commands_processed"]) - calls0
            assert calls <= 3, f"{calls} commands for 200 health checks"  # one PING (+ the INFO)
            server.kill()
            with pytest.raises(ApiError) as grab_error:  # a failed call clears the cached answer
                await store.get(1)
            assert grab_error.value.status == 503
            with pytest.raises(ApiError) as health_error:
                await store.health()
            assert health_error.value.code == "store_unavailable"
            server.start()
            await store.health()
            server.kill()
            time.sleep(HEALTH_TTL_S + 0.1)  # no call failed: the cached answer expires on its own
            with pytest.raises(ApiError):
                await store.health()
        finally:
            await store.close()

    with redis_server() as server:
        asyncio.run(main(server))
