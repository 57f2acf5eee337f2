"""Hot-envelope races on both stores and both modes: no double grab, never over count,
conservation to the cent, refund exactly once and never racing a grab."""

from __future__ import annotations

import asyncio

import pytest

from hongbao.loadtests.service.errors import ApiError
from hongbao.loadtests.service.stores import open_store
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.grab_checks import check_ledger, check_outcomes, check_shares, race, requests_for

SEED = 11
CASES = [("pre_split", "double_mean"), ("pre_split", "line_cut"), ("on_grab", "double_mean"), ("on_grab", "beta")]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request) -> str:
    return "memory" if request.param == "memory" else request.getfixturevalue("redis_url")


async def _stores(url: str, n: int) -> list:
    """``n`` stores on the same data: for Redis these act as ``n`` service workers."""
    if url == "memory":  # one process, one store: "workers" share it
        store = open_store(url, seed=SEED)
        await store.open()
        return [store] * n
    stores = [open_store(url, seed=SEED) for _ in range(n)]
    for s in stores:
        await s.open()
    return stores


@pytest.mark.parametrize("mode,algorithm", CASES)
def test_hot_envelope_race(store_url, mode, algorithm):
    async def main():
        stores = await _stores(store_url, 3)
        try:
            spec = EnvelopeSpec("boss", 200_000, 200, algorithm, mode, 1, None, 60.0)
            env = await stores[0].create(spec)
            requests = requests_for(300, seed=5)
            turn = iter(range(10**9))

            def grab(user, request_id):  # round-robin over the "workers"
                return stores[next(turn) % len(stores)].grab(env["id"], user, request_id)

            results = await race(grab, requests)
            firsts = check_outcomes(results, requests, count=200)
            assert len(firsts) == 200  # 300 users for 200 shares: sold out exactly
            check_shares(firsts, env, SEED)
            row = check_ledger(await stores[0].ledger(), env["id"])
            assert row["remaining_cents"] == 0 and row["remaining_count"] == 0
            state = await stores[0].get(env["id"])
            assert sorted(g["user"] for g in state["grabs"]) == sorted(firsts)
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["pre_split", "on_grab"])
def test_refund_races_grabs(store_url, mode):
    """Grabs keep coming while the envelope expires and refunds fire: exactly one refund, every
    acknowledged grab precedes it in the ledger, and the money adds up."""

    async def main():
        stores = await _stores(store_url, 2)
        try:
            spec = EnvelopeSpec("boss", 1_000_000, 5_000, "double_mean", mode, 1, None, 0.4)
            env = await stores[0].create(spec)
            acked, refunded, rounds_after = [], [], 0
            for n in range(0, 10**6, 40):  # until 3 rounds after the refund went through
                batch = [stores[i % 2].grab(env["id"], f"u{n + i}", f"r{n + i}") for i in range(40)]
                batch.insert(20, stores[1].refund(env["id"], f"refund-{n}"))
                for res in await asyncio.gather(*batch, return_exceptions=True):
                    if isinstance(res, ApiError):
                        assert res.code in ("expired", "not_expired", "already_refunded", "sold_out"), res.body()
                    elif isinstance(res, BaseException):
                        raise res
                    else:
                        (refunded if "refunded_cents" in res else acked).append(res)
                rounds_after += bool(refunded)
                if rounds_after > 3:
                    break
            done = refunded
            assert len(done) == 1, f"refund succeeded {len(done)} times"
            assert acked, "no grab got in before expiry: the race did not happen"
            ledger = await stores[0].ledger()
            row = check_ledger(ledger, env["id"])
            assert (
                row["refunded_cents"] == done[0]["refunded_cents"] == 1_000_000 - sum(g["amount_cents"] for g in acked)
            )
            assert row["remaining_cents"] == 0
            grabs = [e for e in ledger["entries"] if e["kind"] == "grab"]
            assert len(grabs) == len(acked), "an acknowledged grab is missing from the ledger (or vice versa)"
            with pytest.raises(ApiError) as late:
                await stores[0].grab(env["id"], "late-user", "late")
            assert late.value.code == "expired"
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())


def test_refund_rules(store_url):
    async def main():
        (store,) = (await _stores(store_url, 1))[:1]
        try:
            env = await store.create(EnvelopeSpec("boss", 1_000, 10, "equal", "pre_split", 1, None, 0.2))
            with pytest.raises(ApiError) as early:
                await store.refund(env["id"], None)
            assert early.value.code == "not_expired" and early.value.status == 409
            await store.grab(env["id"], "alice", "a1")
            await asyncio.sleep(0.25)
            out = await store.refund(env["id"], None)
            assert out["refunded_cents"] == 900 and out["sender"] == "boss"
            with pytest.raises(ApiError) as again:
                await store.refund(env["id"], None)
            assert again.value.code == "already_refunded"
            repeat = await store.grab(env["id"], "alice", "a2")  # a past grab is still answered
            assert repeat["repeat"] and repeat["amount_cents"] == 100 and repeat["request_id"] == "a1"
            with pytest.raises(ApiError) as missing:
                await store.refund(10**6, None)
            assert missing.value.code == "not_found"
        finally:
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["pre_split", "on_grab"])
def test_sold_out_after_last_grab(store_url, mode):
    """Regression: a worker that took the last on_grab share must answer sold_out, not fail."""

    async def main():
        (store,) = (await _stores(store_url, 1))[:1]
        try:
            env = await store.create(EnvelopeSpec("boss", 7, 2, "naive", mode, 0, None, 60.0))
            first = await store.grab(env["id"], "a", "1")
            second = await store.grab(env["id"], "b", "2")
            assert first["amount_cents"] + second["amount_cents"] == 7 and second["remaining_count"] == 0
            for user in ("c", "d"):
                with pytest.raises(ApiError) as sold:
                    await store.grab(env["id"], user, "3")
                assert sold.value.code == "sold_out" and sold.value.status == 409
        finally:
            await store.close()

    asyncio.run(main())
