"""The hot-envelope race and the invariants every store must keep, shared by the store tests.

``race(grab, ...)`` fires hundreds of concurrent grabs at one envelope - first tries, retries of
the same request_id, and the same user with a new request_id - and ``check_outcomes`` /
``check_ledger`` assert: at most one grab per user (repeats return the very same grab), never more
grabs than ``count``, and sum(grabbed) + remaining + refunded == total to the cent.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable

from hongbao import kernels

Grab = Callable[[str, str], Awaitable[dict]]  # (user, request_id) -> grab answer, raises on rejection


def requests_for(users: int, seed: int) -> list[tuple[str, str]]:
    """Each user once, a third retried with the same request_id, a fifth with a new one; shuffled."""
    rnd = random.Random(seed)
    out = [(f"u{u}", f"r{u}") for u in range(users)]
    out += [(f"u{u}", f"r{u}") for u in rnd.sample(range(users), users // 3)]
    out += [(f"u{u}", f"r{u}-again") for u in rnd.sample(range(users), users // 5)]
    rnd.shuffle(out)
    return out


async def race(grab: Grab, requests: list[tuple[str, str]]) -> list[dict | BaseException]:
    """All requests at once; each result is the answer or the exception raised."""
    return await asyncio.gather(*(grab(u, r) for u, r in requests), return_exceptions=True)


def race_over_http(url: str, requests: list[tuple[str, str]]) -> list[dict | BaseException]:
    """``race`` through a real HTTP grab endpoint: 16 keep-alive connections (httpx slows down
    with many); a non-200 answer becomes the service's ApiError, as the store would raise it."""
    import httpx

    from hongbao.loadtests.service.errors import ApiError

    async def main():
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def grab(user, request_id):
                r = await client.post(url, json={"user": user, "request_id": request_id})
                if r.status_code != 200:
                    raise ApiError(r.status_code, r.json()["error"], r.json()["detail"])
                return r.json()

            return await race(grab, requests)

    return asyncio.run(main())


def check_outcomes(
    results: list, requests: list[tuple[str, str]], count: int, allowed_errors: tuple[str, ...] = ("sold_out",)
) -> dict[str, dict]:
    """Per-user grabs are unique and stable; returns user -> grab."""
    by_user: dict[str, list[dict]] = defaultdict(list)
    for (user, _), res in zip(requests, results, strict=True):
        if isinstance(res, BaseException):
            code = getattr(res, "code", None)
            assert code in allowed_errors, f"{user}: unexpected {res!r}"
            continue
        assert res["user"] == user
        by_user[user].append(res)
    firsts = {}
    for user, answers in by_user.items():
        fresh = [a for a in answers if not a["repeat"]]
        assert len(fresh) == 1, f"{user} grabbed {len(fresh)} times (double grab)"
        keyed = {(a["amount_cents"], a["seq"], a["request_id"]) for a in answers}
        assert len(keyed) == 1, f"{user} got different answers on retry: {keyed}"
        firsts[user] = fresh[0]
    assert len(firsts) <= count, f"{len(firsts)} grabs for count {count}"
    seqs = sorted(g["seq"] for g in firsts.values())
    assert seqs == list(range(len(seqs))), "seq must be 0..n-1 without gaps or repeats"
    return firsts


def check_ledger(ledger: dict, envelope_id: int) -> dict:
    """Conservation and uniqueness from the ledger alone; returns the envelope's ledger row."""
    (row,) = [e for e in ledger["envelopes"] if e["id"] == envelope_id]
    entries = [e for e in ledger["entries"] if e["envelope_id"] == envelope_id]
    grabs = [e for e in entries if e["kind"] == "grab"]
    refunds = [e for e in entries if e["kind"] == "refund"]
    assert len({g["user"] for g in grabs}) == len(grabs), "a user appears twice in the ledger"
    assert len(grabs) <= row["count"]
    assert len(grabs) == row["count"] - row["remaining_count"]
    assert len(refunds) <= 1, "refunded more than once"
    assert all(g["amount_cents"] >= 0 for g in grabs)
    refunded = sum(r["amount_cents"] for r in refunds)
    assert refunded == row["refunded_cents"]
    total = sum(g["amount_cents"] for g in grabs) + row["remaining_cents"] + row["refunded_cents"]
    assert total == row["total_cents"], f"conservation broken: {total} != {row['total_cents']}"
    if refunds:  # nothing after the refund: it closed the envelope
        assert entries[-1]["kind"] == "refund", "a grab was recorded after the refund"
    return row


def expected_shares(envelope: dict, seed: int) -> list[int]:
    """pre_split: kernels.split(...); on_grab: kernels.next_share chained grab after grab."""
    args = dict(
        algorithm=envelope["algorithm"],
        min_cents=envelope["min_cents"],
        max_cents=envelope["max_cents"],
        seed=seed,
        envelope_id=envelope["id"],
    )
    if envelope["mode"] == "pre_split":
        return kernels.split(envelope["total_cents"], envelope["count"], **args).tolist()
    out, remaining = [], envelope["total_cents"]
    for seq in range(envelope["count"]):
        out.append(kernels.next_share(remaining, envelope["count"] - seq, step=seq, **args))
        remaining -= out[-1]
    return out


def check_shares(firsts: dict[str, dict], envelope: dict, seed: int) -> None:
    """Grab ``seq`` got exactly the kernels' share number ``seq`` (see expected_shares)."""
    expected = expected_shares(envelope, seed)
    for g in firsts.values():
        assert g["amount_cents"] == int(expected[g["seq"]]), f"seq {g['seq']}: share differs from the kernel"
