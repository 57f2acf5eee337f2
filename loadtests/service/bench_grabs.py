"""Grabs per second of each store and mode, measured with pytest-benchmark (not a test).

    .venv/bin/pytest -c harness/suites/pytest.ini loadtests/service/bench_grabs.py \\
        --benchmark-json results/grabs.json

Each round creates a fresh hot envelope of GRABS shares and grabs all of it through the store API
(no HTTP), CONCURRENCY grabs in flight at once, one event loop: memory, a real redis-server and a
real 3-master Redis Cluster started here on loopback ports. ``extra_info`` holds grabs_per_second
(from the mean round) and, for the ledger benchmark, the entries read per second. A process's
first grabs pay connection setup and Numba warm-up, hence the warm-up round.
"""

from __future__ import annotations

import asyncio

import pytest

from hongbao.loadtests.service.stores import open_store
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.redis_server import redis_cluster, redis_server

GRABS = 2_000
CONCURRENCY = 64
LEDGER_ENVELOPES, LEDGER_GRABS_EACH = 200, 1_000  # a 200,000-entry ledger
ROUNDS = 5


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module", params=["memory", "redis", "redis-cluster"])
def store(request, loop):
    """An opened store (memory, redis-server, or 3-master Cluster) on the module's event loop."""
    if request.param == "memory":
        url_cm = None
        url = "memory"
    elif request.param == "redis":
        url_cm = redis_server()
        url = url_cm.__enter__().url
    else:
        url_cm = redis_cluster(3)
        url = url_cm.__enter__().url
    s = open_store(url, seed=1)
    loop.run_until_complete(s.open())
    yield s
    loop.run_until_complete(s.close())
    if url_cm is not None:
        url_cm.__exit__(None, None, None)


async def _grab_all(store, envelope_id: int, n: int, prefix: str) -> int:
    sem = asyncio.Semaphore(CONCURRENCY)
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with sem:
            await store.grab(envelope_id, f"{prefix}u{i}", f"{prefix}r{i}")
            ok += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return ok


@pytest.mark.parametrize("mode", ["pre_split", "on_grab"])
def bench_hot_envelope_grabs(benchmark, store, loop, mode):
    spec = EnvelopeSpec("bench", GRABS * 100, GRABS, "double_mean", mode, 1, None, 3600.0)
    rounds = iter(range(10**9))

    def setup():
        env = loop.run_until_complete(store.create(spec))
        return (env["id"], f"{next(rounds)}-"), {}

    def grab_all(envelope_id, prefix):
        assert loop.run_until_complete(_grab_all(store, envelope_id, GRABS, prefix)) == GRABS

    benchmark.pedantic(grab_all, setup=setup, rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update(
        store=store.kind + ("-cluster" if getattr(store, "cluster", False) else ""),
        mode=mode,
        grabs_per_round=GRABS,
        concurrency=CONCURRENCY,
        grabs_per_second=round(GRABS / benchmark.stats.stats.mean),
    )


def bench_full_ledger_read(benchmark, store, loop):
    """GET /ledger's store call over 200,000 entries (200 envelopes x 1,000 grabs)."""

    async def fill():
        spec = EnvelopeSpec("bench", LEDGER_GRABS_EACH * 10, LEDGER_GRABS_EACH, "equal", "pre_split", 1, None, 3600.0)
        first = None
        for _ in range(LEDGER_ENVELOPES):
            env = await store.create(spec)
            first = first or env["id"]
            await _grab_all(store, env["id"], LEDGER_GRABS_EACH, "ledger-")
        return first

    first = loop.run_until_complete(fill())

    def read():
        return loop.run_until_complete(store.ledger(after_id=first - 1, limit=LEDGER_ENVELOPES))

    out = benchmark.pedantic(read, rounds=3, warmup_rounds=0)
    assert len(out["entries"]) == LEDGER_ENVELOPES * LEDGER_GRABS_EACH
    benchmark.extra_info.update(
        entries=len(out["entries"]), entries_per_second=round(len(out["entries"]) / benchmark.stats.stats.mean)
    )


def bench_round_trip_floor(benchmark, store, loop):
    """The floor under the grab rate, same concurrency: a trivial one-key Lua script per call
    (Redis) or an empty await (memory). grabs_per_second / calls_per_second says how much of a
    grab's cost is the store's own logic rather than the client round trip."""
    client = getattr(store, "_client", None)

    async def calls() -> None:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            async with sem:
                if client is None:
                    await asyncio.sleep(0)
                else:
                    await client.eval("return redis.call('INCR', KEYS[1])", 1, f"hb:{{env:{i % 8}}}:floor")

        await asyncio.gather(*(one(i) for i in range(GRABS)))

    benchmark.pedantic(lambda: loop.run_until_complete(calls()), rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update(
        calls_per_round=GRABS, concurrency=CONCURRENCY, calls_per_second=round(GRABS / benchmark.stats.stats.mean)
    )
