"""The Redis store on a real 3-master Redis Cluster: the same hot-envelope race, plus proof that
each envelope's keys share one slot while different envelopes land on different masters."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.cluster import key_slot

from hongbao.loadtests.service.stores import open_store
from hongbao.loadtests.service.stores.redis_store import keys
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.grab_checks import check_ledger, check_outcomes, check_shares, race, requests_for

pytestmark = pytest.mark.redis
SEED = 3


def test_envelope_keys_share_one_slot():
    for envelope_id in (1, 2, 99, 123456789):
        slots = {key_slot(k.encode()) for k in keys(envelope_id).values()}
        assert len(slots) == 1, f"envelope {envelope_id} keys span slots {slots}"


@pytest.mark.parametrize("mode", ["pre_split", "on_grab"])
def test_cluster_hot_envelope_race(redis_cluster_procs, mode):
    async def main():
        stores = [open_store(redis_cluster_procs.url, seed=SEED) for _ in range(2)]
        for s in stores:
            await s.open()
        try:
            envs = [
                await stores[0].create(EnvelopeSpec("boss", 50_000, 150, "double_mean", mode, 1, 1_000, 60.0))
                for _ in range(4)
            ]
            requests = requests_for(200, seed=9)
            for n, env in enumerate(envs):

                def grab(user, request_id, env=env, n=n):
                    return stores[(hash(user) + n) % 2].grab(env["id"], user, request_id)

                results = await race(grab, requests)
                firsts = check_outcomes(results, requests, count=150)
                assert len(firsts) == 150
                check_shares(firsts, env, SEED)
            ledger = await stores[1].ledger()
            for env in envs:
                check_ledger(ledger, env["id"])
            return envs
        finally:
            for s in stores:
                await s.close()

    envs = asyncio.run(main())
    # the envelopes really are spread over the masters (keys hashed by their {env:ID} tag)
    holders = set()
    for env in envs:
        meta = keys(env["id"])["meta"]
        owners = [
            n.port
            for n in redis_cluster_procs.nodes
            if n.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(meta.encode()))
        ]
        assert len(owners) == 1
        holders.add(owners[0])
    assert len(holders) >= 2, "all test envelopes landed on one master: the cluster was not exercised"


@contextlib.asynccontextmanager
async def _opened(url: str):
    """An opened store on the Cluster, closed on exit."""
    store = open_store(url, seed=SEED)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _node_stats(client) -> tuple[int, int, int]:
    """(EVALSHA calls, read events, MOVED replies) a node has served, from ONE INFO call on a
    connection already open (a new one would add its own handshake's reads)."""
    info = client.info("everything")
    return (
        info.get("cmdstat_evalsha", {}).get("calls", 0),
        info["total_reads_processed"],
        info.get("errorstat_MOVED", {}).get("count", 0),
    )


def _owner(nodes, envelope_id: int):
    slot = key_slot(keys(envelope_id)["meta"].encode())
    (owner,) = [n for n in nodes if n.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)]
    return owner


def _migrate_slot(nodes, slot: int, src, dst) -> None:
    """Move one slot and its keys from ``src`` to ``dst`` the way redis-cli --cluster reshard does."""
    src_c, dst_c = src.client(), dst.client()
    src_id, dst_id = src_c.execute_command("CLUSTER", "MYID"), dst_c.execute_command("CLUSTER", "MYID")
    dst_c.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src_c.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    moved = src_c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
    src_c.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *moved)
    for n in nodes:
        n.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def test_cluster_batch_is_one_pipeline_per_node_and_follows_moved(redis_cluster_procs):
    """A batch of grabs over 30 envelopes reaches each master as ONE pipeline (one read event,
    one EVALSHA per envelope there); then a slot moved under the store is followed (MOVED) and
    its envelope's grabs stay exact."""
    nodes = redis_cluster_procs.nodes
    stats = {n.port: n.client() for n in nodes}

    async def main():
        async with _opened(redis_cluster_procs.url) as store:
            spec = EnvelopeSpec("boss", 10_000, 6, "double_mean", "pre_split", 1, None, 60.0)
            envs = [await store.create(spec) for _ in range(30)]
            owners = {e["id"]: _owner(nodes, e["id"]).port for e in envs}
            before = {port: _node_stats(c) for port, c in stats.items()}
            first = await asyncio.gather(*(store.grab(e["id"], f"u{i}", f"r{i}") for e in envs for i in range(2)))
            after = {port: _node_stats(c) for port, c in stats.items()}
            for n in nodes:
                here = sum(1 for port in owners.values() if port == n.port)
                calls, reads = after[n.port][0] - before[n.port][0], after[n.port][1] - before[n.port][1]
                assert here >= 5, f"only {here} test envelopes on node {n.port}: spread too thin to judge"
                assert calls == here, f"node {n.port}: {calls} EVALSHA for {here} envelopes (one each expected)"
                assert reads <= 2, f"node {n.port}: {reads} read events for {here} calls: not one pipeline"  # + INFO
            # move the slot of the first envelope to another master behind the store's back
            moving = envs[0]["id"]
            src = _owner(nodes, moving)
            dst = next(n for n in nodes if n is not src)
            _migrate_slot(nodes, key_slot(keys(moving)["meta"].encode()), src, dst)
            moved0 = _node_stats(stats[src.port])[2]
            second = await asyncio.gather(*(store.grab(e["id"], f"u{i}", f"r{i}") for e in envs for i in range(1, 6)))
            assert _node_stats(stats[src.port])[2] > moved0, "no MOVED was answered: the test did not exercise it"
            assert _owner(nodes, moving) is dst
            ledger = await store.ledger()
            for n, env in enumerate(envs):
                answers = first[2 * n : 2 * n + 2] + second[5 * n : 5 * n + 5]
                firsts = {a["user"]: a for a in answers if not a["repeat"]}
                assert sorted(firsts) == [f"u{i}" for i in range(6)]
                assert [a["user"] for a in answers if a["repeat"]] == ["u1"]
                check_shares(firsts, env, SEED)
                check_ledger(ledger, env["id"])

    asyncio.run(main())


def test_cluster_batch_survives_script_flush(redis_cluster_procs):
    """After SCRIPT FLUSH on every master (as after restarts) a pipelined batch gets NOSCRIPT per
    call and sends the source instead: every grab still lands, once."""

    async def main():
        async with _opened(redis_cluster_procs.url) as store:
            spec = EnvelopeSpec("boss", 1_000, 3, "double_mean", "pre_split", 1, None, 60.0)
            envs = [await store.create(spec) for _ in range(12)]
            clients = [n.client() for n in redis_cluster_procs.nodes]
            for c in clients:
                c.script_flush()
            noscript0 = sum(c.info("errorstats").get("errorstat_NOSCRIPT", {}).get("count", 0) for c in clients)
            done = await asyncio.gather(*(store.grab(e["id"], f"u{i}", "r") for e in envs for i in range(3)))
            assert [g["repeat"] for g in done] == [False] * 36
            noscript = sum(c.info("errorstats").get("errorstat_NOSCRIPT", {}).get("count", 0) for c in clients)
            assert noscript > noscript0, "no NOSCRIPT was answered: the fallback was not exercised"
            ledger = await store.ledger()
            for env in envs:
                assert check_ledger(ledger, env["id"])["remaining_count"] == 0

    asyncio.run(main())
