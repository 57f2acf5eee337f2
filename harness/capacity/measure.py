"""Store-side measurements for the projection, on real stores with real envelopes.

- memory store: bytes per envelope with tracemalloc (fresh, and after every share was grabbed);
- Redis: bytes per envelope from ``MEMORY USAGE`` of the envelopes' own keys, and the grab script's
  rate per Redis core = grabs / CPU seconds the redis-server process spent running them (read
  with psutil from the server's pid in ``INFO server``; one Redis shard = one core).

Every measurement is bounded (``envelopes`` x ``count`` grabs) and seeded.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc

from hongbao.loadtests.service.stores import open_store
from hongbao.loadtests.service.validation import EnvelopeSpec


def _spec(count: int, i: int) -> EnvelopeSpec:
    return EnvelopeSpec(
        sender=f"capacity-sender-{i}",
        total_cents=count * 888,
        count=count,
        algorithm="double_mean",
        mode="pre_split",
        min_cents=1,
        max_cents=None,
        expires_in_s=3600.0,
    )


async def _grab_all(store, ids: list[int], count: int, concurrency: int) -> int:
    """Grab every share of every envelope, ``concurrency`` requests in flight; returns grabs made."""
    jobs = [(eid, k) for k in range(count) for eid in ids]
    sem = asyncio.Semaphore(concurrency)

    async def one(eid: int, k: int) -> None:
        async with sem:
            await store.grab(eid, f"capacity-user-{k}", f"capacity-{eid}-{k}")

    await asyncio.gather(*(one(e, k) for e, k in jobs))
    return len(jobs)


def memory_store_bytes(envelopes: int = 2000, count: int = 10, seed: int = 0) -> dict:
    """tracemalloc bytes per envelope of the memory store: fresh, and with every share grabbed."""

    async def measure() -> dict:
        store = open_store("memory", seed=seed)
        await store.open()
        await store.create(_spec(count, 0))  # warm-up: kernels compiled, caches filled
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            ids = [(await store.create(_spec(count, i)))["id"] for i in range(envelopes)]
            gc.collect()
            fresh = tracemalloc.get_traced_memory()[0] - base
            await _grab_all(store, ids, count, concurrency=64)
            gc.collect()
            grabbed = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
            await store.close()
        return {
            "store": "memory",
            "envelopes": envelopes,
            "shares_per_envelope": count,
            "bytes_per_envelope_fresh": fresh / envelopes,
            "bytes_per_envelope_grabbed": grabbed / envelopes,
            "method": "tracemalloc",
        }

    return asyncio.run(measure())


def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


def _redis_cpu_seconds(client) -> tuple[float, int | None]:
    """CPU seconds used so far by the redis-server process, and its PID (None when it is not on this
    machine: then the seconds are Redis's own accounting)."""
    import psutil

    pid = int(client.info("server").get("process_id", 0))
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.Error, ValueError):
        info = client.info("cpu")  # fall back to Redis's own accounting (main thread + children)
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"]), None
    return times.user + times.system, pid


def _envelope_bytes(client, ids: list[int]) -> float:
    """Sum of MEMORY USAGE over every key of the given envelopes (the store's own key names)."""
    from hongbao.loadtests.service.stores.redis_store import keys

    total = 0
    for eid in ids:
        for key in keys(eid).values():
            total += int(client.memory_usage(key, samples=0) or 0)
    return total


def _index_bytes(client) -> int:
    from hongbao.loadtests.service.stores.redis_store import INDEX_KEY

    return int(client.memory_usage(INDEX_KEY, samples=0) or 0)


def _pipelined_grabs(client, ids: list[int], count: int, calls_per_pipeline: int = 8) -> int:
    """Run the store's grab script (loadtests/service/lua/grab.lua) for every share the way the
    store batches it (MAX_BATCH grabs per call, grouped by envelope), several calls per pipeline
    so that the client is not what limits Redis; returns how many grabs were granted."""
    from hongbao.loadtests.service.stores.batcher import MAX_BATCH, NO_WINDOW, call_args
    from hongbao.loadtests.service.stores.redis_store import LUA_DIR

    sha = client.script_load((LUA_DIR / "grab.lua").read_text())
    jobs = [(eid, k) for k in range(count) for eid in ids]
    calls = []
    for start in range(0, len(jobs), MAX_BATCH):
        groups: dict[int, list] = {}
        for eid, k in jobs[start : start + MAX_BATCH]:
            groups.setdefault(eid, []).append((f"capacity-user-{k}", f"capacity-{eid}-{k}"))
        calls.append(call_args([(eid, NO_WINDOW, grabs) for eid, grabs in groups.items()]))
    ok = 0
    for start in range(0, len(calls), calls_per_pipeline):
        pipe = client.pipeline(transaction=False)
        for script_keys, args in calls[start : start + calls_per_pipeline]:
            pipe.evalsha(sha, len(script_keys), *script_keys, *args)
        for reply in pipe.execute():  # entries 'o...' are grants; group states start with a digit
            ok += sum(1 for entry in reply if entry[:1] in (b"o", "o"))
    return ok


def redis_figures(url: str, envelopes: int = 2000, count: int = 10, seed: int = 0) -> dict:
    """Bytes per envelope (MEMORY USAGE) and grab-script rate per Redis core, on a real Redis.

    Envelopes are created through the Redis store (pre_split), then every share is grabbed with
    the store's own grab script, pipelined; the rate per core is grabs / CPU seconds the
    redis-server process spent. The measurement's envelopes are deleted afterwards."""
    client = _redis_client(url)

    async def create() -> list[int]:
        store = open_store(url, seed=seed)
        await store.open()
        try:
            return [(await store.create(_spec(count, i)))["id"] for i in range(envelopes)]
        finally:
            await store.close()

    try:
        index0 = _index_bytes(client)
        ids = asyncio.run(create())
        index_per_envelope = max(0, _index_bytes(client) - index0) / envelopes
        fresh = _envelope_bytes(client, ids) / envelopes + index_per_envelope
        cpu0, pid = _redis_cpu_seconds(client)
        t0 = time.perf_counter()
        grabs = _pipelined_grabs(client, ids, count)
        wall = time.perf_counter() - t0
        cpu1, _ = _redis_cpu_seconds(client)
        grabbed = _envelope_bytes(client, ids) / envelopes + index_per_envelope
        _delete(client, ids)
    finally:
        client.close()
    if grabs != envelopes * count:
        raise RuntimeError(f"redis measurement: {grabs} of {envelopes * count} grabs succeeded")
    cpu = max(cpu1 - cpu0, 1e-9)
    return {
        "store": "redis",
        "url": url,
        "envelopes": envelopes,
        "shares_per_envelope": count,
        "bytes_per_envelope_fresh": fresh,
        "bytes_per_envelope_grabbed": grabbed,
        "grabs": grabs,
        "wall_seconds": wall,
        "grabs_per_second_wall": grabs / wall,
        "redis_cpu_seconds": cpu,
        "grabs_per_redis_core": grabs / cpu,
        "redis_pid": pid,
        "method": "MEMORY USAGE of each envelope's keys (+ its share of the id index); "
        "grab.lua batched as the store sends it, pipelined EVALSHA, grabs / redis-server CPU seconds",
    }


def _delete(client, ids: list[int]) -> None:
    """Remove the measurement's own envelopes (keys and index entries) from the server."""
    from hongbao.loadtests.service.stores.redis_store import INDEX_KEY, keys

    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        client.delete(*[k for eid in chunk for k in keys(eid).values()])
        client.zrem(INDEX_KEY, *[str(e) for e in chunk])
