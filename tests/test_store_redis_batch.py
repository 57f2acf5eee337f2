"""Batched grabs on a real redis-server: one grab.lua call for a whole batch gives exactly what
one-at-a-time grabs give, and a script that fails midway fails every caller of its batch (503)
and loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from hongbao.loadtests.service.errors import ApiError
from hongbao.loadtests.service.stores.redis_store import RedisStore, keys
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.grab_checks import check_ledger, expected_shares

pytestmark = pytest.mark.redis
SEED = 11
SPECS = {  # name -> spec; the envelopes are created in this order (ids 1..5 on a flushed server)
    "pre": EnvelopeSpec("boss", 10_000, 4, "double_mean", "pre_split", 1, None, 60.0),
    "online": EnvelopeSpec("boss", 9_999, 5, "beta", "on_grab", 1, None, 60.0),
    "expired": EnvelopeSpec("boss", 500, 3, "double_mean", "pre_split", 1, None, 0.3),
    "big": EnvelopeSpec("boss", 10**12, 3, "double_mean", "on_grab", 1, None, 60.0),  # the largest total
    "tiny": EnvelopeSpec("boss", 3, 3, "naive", "pre_split", 1, None, 60.0),
}
MISSING = 999


def _mix(ids: dict[str, int]) -> list[tuple[int, str, str]]:
    """Fresh grabs, repeats (same and new request_id, in the same batch), more users than shares
    (sold out), an expired and a missing envelope, two on_grab envelopes interleaved."""
    p, o, b, t = ids["pre"], ids["online"], ids["big"], ids["tiny"]
    return [
        (p, "ann", "r1"),
        (o, "ann", "r2"),
        (p, "bob", "r3"),
        (p, "ann", "r1"),
        (o, "cy", "r4"),
        (ids["expired"], "ann", "r5"),
        (b, "dee", "r6"),
        (o, "ann", "r7-new"),
        (p, "cy", "r8"),
        (MISSING, "ann", "r9"),
        (p, "dee", "r10"),
        (p, "eve", "r11"),
        (b, "eve", "r12"),
        (o, "dee", "r13"),
        (t, "ann", "r14"),
        (t, "bob", "r15"),
        (t, "cy", "r16"),
        (t, "dee", "r17"),
        (o, "eve", "r18"),
        (o, "fay", "r19"),
        (o, "gus", "r20"),
        (p, "bob", "r3-new"),
        (b, "fay", "r21"),
    ]


def _outcome(res) -> tuple:
    if isinstance(res, ApiError):
        return ("error", res.status, res.code)
    if isinstance(res, BaseException):
        raise res
    return tuple(sorted(res.items()))


async def _run(url: str, batched: bool) -> tuple[list, dict, int]:
    """The mix on a flushed server, one grab at a time or all in one batch; (outcomes, ledger
    without timestamps, grab.lua calls the mix took)."""
    from redis import Redis

    server = Redis.from_url(url, decode_responses=True)
    server.flushall()
    store = RedisStore(url, seed=SEED)
    await store.open()
    try:
        ids = {name: (await store.create(spec))["id"] for name, spec in SPECS.items()}
        for name in ("online", "big"):  # first sight of an on_grab envelope: the plan is built
            await store.grab(ids[name], "warm", "r0")
        await asyncio.sleep(0.35)  # "expired" is now past its expiry
        calls0 = _script_calls(server)
        mix = _mix(ids)
        if batched:
            results = await asyncio.gather(*(store.grab(*g) for g in mix), return_exceptions=True)
        else:
            results = [await _caught(store.grab(*g)) for g in mix]
        calls = _script_calls(server) - calls0
        ledger = await store.ledger()
        for envelope_id in ids.values():
            check_ledger(ledger, envelope_id)
        for e in ledger["entries"]:
            e.pop("ts")
        return [_outcome(r) for r in results], ledger, calls
    finally:
        await store.close()
        server.close()


async def _caught(coro):
    try:
        return await coro
    except ApiError as exc:
        return exc


def _script_calls(server) -> int:
    stats = server.info("commandstats")
    return sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("evalsha", "eval"))


def test_one_batch_gives_what_one_at_a_time_gives(redis_proc, redis_url):
    alone, alone_ledger, alone_calls = asyncio.run(_run(redis_url, batched=False))
    batch, batch_ledger, batch_calls = asyncio.run(_run(redis_url, batched=True))
    assert alone_calls == len(_mix({n: 0 for n in SPECS})) and batch_calls == 1, (alone_calls, batch_calls)
    assert batch == alone
    assert batch_ledger == alone_ledger
    kinds = [o[2] if o[0] == "error" else ("repeat" if dict(o)["repeat"] else "ok") for o in batch]
    for kind in ("ok", "repeat", "sold_out", "expired", "not_found"):
        assert kind in kinds, f"the mix no longer exercises {kind}: {kinds}"
    # every grant is the kernels' share for its seq (pre_split list and on_grab chain alike)
    envelopes = {e["id"]: e for e in batch_ledger["envelopes"]}
    for e in batch_ledger["entries"]:
        env = dict(envelopes[e["envelope_id"]], min_cents=1, max_cents=None)
        assert e["amount_cents"] == expected_shares(env, SEED)[e["seq"]]


def test_a_script_error_midway_fails_the_whole_batch_and_loses_nothing(redis_proc, redis_url):
    """Envelope B's users key is planted with the wrong type: the call stops at B's group after A's
    grabs were written. Every caller gets 503; retried, A's grabs come back as repeats with the
    very amounts written, and every cent is where the ledger says."""

    async def main():
        store = RedisStore(redis_url, seed=SEED)
        await store.open()
        try:
            spec = EnvelopeSpec("boss", 1_000, 10, "double_mean", "pre_split", 1, None, 60.0)
            a, b, c = [(await store.create(spec))["id"] for _ in range(3)]
            client = redis_proc.client()
            client.set(keys(b)["users"], "not a hash")
            batch = [(a, "u1", "r1"), (a, "u2", "r2"), (b, "u1", "r3"), (c, "u1", "r4"), (a, "u3", "r5")]
            first = await asyncio.gather(*(store.grab(*g) for g in batch), return_exceptions=True)
            assert all(isinstance(r, ApiError) and r.status == 503 and r.code == "store_unavailable" for r in first), (
                first
            )
            written = client.lrange(keys(a)["ledger"], 0, -1)
            assert len(written) == 3 and client.llen(keys(c)["ledger"]) == 0  # A's group ran, C's did not
            client.delete(keys(b)["users"])
            again = await asyncio.gather(*(store.grab(*g) for g in batch))
            assert [g["repeat"] for g in again] == [True, True, False, False, True]
            assert sorted(
                f"g|{g['user']}|{g['amount_cents']}|{g['seq']}" for g in again if g["envelope_id"] == a
            ) == sorted("|".join(w.split("|")[:4]) for w in written)
            ledger = await store.ledger()
            for envelope_id in (a, b, c):
                row = check_ledger(ledger, envelope_id)
                assert client.llen(keys(envelope_id)["shares"]) == row["remaining_count"]
        finally:
            await store.close()

    asyncio.run(main())


def test_many_fresh_on_grab_envelopes_at_once_from_two_workers(redis_url):
    """First sight of many on_grab envelopes while batches keep flowing, from two stores (two
    workers): every envelope's plan is built while other grabs are being batched, and each
    grab still gets exactly the online chain's share for its seq (a plan published before it
    held a state once made a whole batch fail with 500)."""
    from tests.support.grab_checks import check_outcomes, check_shares

    async def main():
        stores = [RedisStore(redis_url, seed=SEED) for _ in range(2)]
        for s in stores:
            await s.open()
        try:
            spec = EnvelopeSpec("boss", 5_000, 8, "double_mean", "on_grab", 1, None, 60.0)
            envs = [await stores[0].create(spec) for _ in range(40)]
            jobs = [(n, e, f"u{i}") for i in range(10) for n, e in enumerate(envs)]
            tasks = []
            for i, (n, e, user) in enumerate(jobs):  # a steady arrival: one new grab per loop turn
                tasks.append(asyncio.ensure_future(stores[(n + i) % 2].grab(e["id"], user, "r")))
                await asyncio.sleep(0)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            ledger = await stores[1].ledger()
            for n, env in enumerate(envs):
                mine = [(user, r) for (m, _, user), r in zip(jobs, results, strict=True) if m == n]
                firsts = check_outcomes([r for _, r in mine], [(u, "r") for u, _ in mine], count=8)
                assert len(firsts) == 8
                check_shares(firsts, env, SEED)
                check_ledger(ledger, env["id"])
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())
