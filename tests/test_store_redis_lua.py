"""grab.lua's compare-and-set, driven directly: a candidate share is applied only when both the
seq and remaining_cents it was computed from match; otherwise nothing is written."""

from __future__ import annotations

import asyncio

import pytest

from hongbao.loadtests.service.stores.batcher import call_args
from hongbao.loadtests.service.stores.redis_store import LUA_DIR, RedisStore, keys
from hongbao.loadtests.service.validation import EnvelopeSpec

pytestmark = pytest.mark.redis


def _pack(*pairs: tuple[int, int]) -> str:
    return "".join(f"{r:016d}{s:016d}" for r, s in pairs)


async def _create_on_grab(url: str) -> int:
    """A 1,000-cent, 4-share on_grab envelope; its id."""
    store = RedisStore(url, seed=0)
    await store.open()
    env = await store.create(EnvelopeSpec("boss", 1_000, 4, "double_mean", "on_grab", 1, None, 60.0))
    await store.close()
    return env["id"]


def _state(client, envelope_id: int) -> tuple:
    k = keys(envelope_id)
    return (client.hgetall(k["meta"]), client.hgetall(k["users"]), client.lrange(k["ledger"], 0, -1))


def test_grab_script_compare_and_set(redis_proc, redis_url):
    envelope_id = asyncio.run(_create_on_grab(redis_url))
    client = redis_proc.client()
    script = client.register_script((LUA_DIR / "grab.lua").read_text())

    def grab(window, *grabs):  # one group: the entries, then the state
        script_keys, args = call_args([(envelope_id, window, list(grabs))])
        return script(keys=script_keys, args=args)

    k = keys(envelope_id)
    before = _state(client, envelope_id)
    for window in [("", ""), ("1", _pack((1_000, 300))), ("0", _pack((999, 300))), ("0", "garbage")]:
        assert grab(window, ("alice", "r1")) == ["x", "1000|4|0"]
        assert _state(client, envelope_id) == before, f"a refused candidate wrote something ({window!r})"
    # the second pair of a window is used when the envelope is one grab further on
    ok = grab(("0", _pack((1_000, 300), (700, 50))), ("alice", "r1"))
    assert ok[0].startswith("o300|0|3|r1|") and ok[1] == "700|3|1"
    ok = grab(("0", _pack((1_000, 300), (700, 50))), ("bob", "r2"))
    assert ok[0].startswith("o50|1|2|r2|") and ok[1] == "650|2|2"
    repeat = grab(("0", _pack((1_000, 1))), ("bob", "r3"))
    assert repeat == ["r" + ok[0][1:], "650|2|2"]
    # in one group, consecutive grabs take consecutive pairs; after a miss the rest of the group
    # is told to retry (nothing written for them), a repeat still answers
    both = grab(("2", _pack((650, 100), (550, 7), (999, 1))), ("carol", "r4"), ("dave", "r5"), ("bob", "r6"))
    assert both[0].startswith("o100|2|1|r4|") and both[1].startswith("o7|3|0|r5|")
    assert both[2] == repeat[0] and both[3] == "543|0|4"
    meta = client.hgetall(k["meta"])
    assert (meta["remaining_cents"], meta["remaining_count"], meta["seq"]) == ("543", "0", "4")
    assert len(client.lrange(k["ledger"], 0, -1)) == 4


def test_grab_script_stops_a_group_at_the_first_miss(redis_proc, redis_url):
    """A pair that does not match makes that grab and every later new grab of the group retry."""
    envelope_id = asyncio.run(_create_on_grab(redis_url))
    client = redis_proc.client()
    script = client.register_script((LUA_DIR / "grab.lua").read_text())
    window = ("0", _pack((1_000, 300), (701, 50), (651, 1)))  # the second pair is off the chain
    script_keys, args = call_args([(envelope_id, window, [("a", "r1"), ("b", "r2"), ("c", "r3")])])
    entries = script(keys=script_keys, args=args)
    assert entries[0].startswith("o300|0|3|r1|") and entries[1:] == ["x", "x", "700|3|1"]
    assert client.hlen(keys(envelope_id)["users"]) == 1


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
            failed = await asyncio.wait_for(
                asyncio.gather(*(store.grab(env["id"], f"v{i}", "r") for i in range(20)), return_exceptions=True), 30
            )
            assert all(isinstance(f, ApiError) and f.status == 503 and f.code == "store_unavailable" for f in failed), (
                failed
            )
            server.start()  # empty again (no persistence in this test)
            env = await store.create(spec)
            assert (await store.grab(env["id"], "w", "r"))["seq"] == 0
        finally:
            await store.close()

    with redis_server() as server:
        asyncio.run(main(server))


def test_health_pings_at_most_once_a_ttl_and_sees_a_dead_server():
    """/healthz answers from a PING at most HEALTH_TTL_S old (so a poller such as wrk does not cost a
    Redis round trip per call), yet a dead server is reported: at once after any failed call, else
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
