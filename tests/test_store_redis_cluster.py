"""The Redis store on a real 3-master Redis Cluster: the same hot-envelope race, plus proof that
each envelope's keys share one slot while different envelopes land on different masters."""
from __future__ import annotations

import asyncio

import pytest
from redis.cluster import key_slot

from hongbao.loadtests.service.stores import open_store
from hongbao.loadtests.service.stores.redis_store import keys
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.grab_checks import check_ledger, check_outcomes, check_shares, race, requests_for
from tests.support.redis_server import redis_cluster_procs  # noqa: F401 - fixture

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
            envs = [await stores[0].create(EnvelopeSpec("boss", 50_000, 150, "double_mean", mode, 1, 1_000, 60.0))
                    for _ in range(4)]
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
        owners = [n.port for n in redis_cluster_procs.nodes
                  if n.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(meta.encode()))]
        assert len(owners) == 1
        holders.add(owners[0])
    assert len(holders) >= 2, "all test envelopes landed on one master: the cluster was not exercised"
