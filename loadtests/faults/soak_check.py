"""The soak's checker (Jepsen's bank checker, for grabs): run at every fault's recovery on the
envelopes not yet settled, and at the end on the whole ledger, which comes from the adapter's
export.

- money conserved to the cent and no double pay-out: loadtests/audit.py on the ledger;
- every acknowledged grab is in the ledger with the amount (and seq, when the service gives one)
  it was acknowledged with, as far as the promise goes: ``durable`` - every acknowledged grab
  (except what the fsync policy of a redis-server the kit started allows: promises.py, under
  everysec/no grabs acknowledged at most AOF_POSTPONE_S before its SIGKILL); ``none`` - lost
  acknowledgements (and grabs recorded differently after a restart lost them) are counted, not
  failed;
- with an adapter that refunds: every expired envelope refunded exactly once (one refund entry once
  the refunder is done; at the end, every envelope), and envelopes created without the client
  seeing the answer are adopted;
- at the end on a Redis the kit started: no index entry without its whole envelope (the atomic
  create).

Without an export the client-side checks of a storm run instead (audit_client.py: no user paid
twice, grants within count and total, a fully granted envelope paid exactly its total).

An envelope is settled once a check saw it refunded; later checks start after the settled ones
(services with integer ids; others are checked whole every time).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import cast

from hongbao.loadtests import audit as audit_mod
from hongbao.loadtests import audit_client
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
from hongbao.loadtests.adapters.reference import ReferenceAdapter
from hongbao.loadtests.faults.client import until_done
from hongbao.loadtests.faults.promises import AOF_POSTPONE_S, compare_acks
from hongbao.loadtests.faults.soak_load import Load

DONE = ("ok", "already_refunded")
PROMISES = ("durable", "none")


class Checker:
    def __init__(self, load: Load, fsync: str | None, redis_url: str | None, promise: str = "durable"):
        if promise not in PROMISES:
            raise ValueError(f"--promise must be one of {', '.join(PROMISES)} (got {promise!r})")
        self.load, self.fsync, self.redis_url, self.promise = load, fsync, redis_url, promise
        self.adapter = load.adapter
        self.windowed = isinstance(self.adapter, ReferenceAdapter)  # GET /ledger?after_id=
        self.settled_below = 1
        self.redis_kills_s: list[float] = []  # seconds after t0 of every redis-server SIGKILL
        self.orphans = 0

    def _fetch(self, after_id: int) -> dict | None:
        http = KeepAliveHttp(self.load.base_url, timeout_s=60)
        try:
            adapter = self.adapter
            if isinstance(adapter, ReferenceAdapter):  # self.windowed
                return until_done(lambda: adapter.export_ledger(http, after_id=after_id), 60, "GET /ledger")
            return until_done(lambda: adapter.export_ledger(http), 60, "the ledger export")
        finally:
            http.close()

    def allowed_loss(self, acked_at_s: float) -> bool:
        """Is losing a grab acknowledged at ``acked_at_s`` within the promise?"""
        return (
            self.promise == "none"
            or self.fsync in ("everysec", "no")
            and any(0.0 <= k - acked_at_s <= AOF_POSTPONE_S for k in self.redis_kills_s)
        )

    def check(self, label: str, *, final: bool = False) -> dict:
        """Check the unsettled envelopes (``final``: all of them); a dict of figures and failures."""
        st, t0 = self.load.state, self.load.t0
        started = time.monotonic()
        after = 0
        if self.windowed:  # the reference service's envelope ids are ints
            first = st.first_id or 1
            assert isinstance(first, int)
            after = max(first, 1 if final else self.settled_below) - 1
        refunded = dict(st.refunded)  # snapshots BEFORE the ledger is read:
        acks = [
            o
            for eid in [e for e in list(st.acks_by_env) if not self.windowed or (isinstance(e, int) and e > after)]
            for o in list(st.acks_by_env[eid])
        ]  # all of these must be in it
        ledger = self._fetch(after)
        if ledger is None:
            return self._client_side(label, started, acks)
        audit = audit_mod.audit_ledger(ledger)
        failures = list(audit.messages())
        cmp = compare_acks(acks, ledger, None)
        beyond = [a for a in cmp["lost_acked_at_s"] if not self.allowed_loss(a)]
        if beyond:
            failures.append(
                f"{len(beyond)} acknowledged grab(s) missing from the ledger, promise was "
                f"{self.promise}"
                + (f" (fsync={self.fsync})" if self.fsync else "")
                + ": "
                + "; ".join(cmp["lost_examples"])
            )
        if cmp["mismatched_acks"] and self.promise == "durable":  # under none: lost, then granted anew
            failures.append(
                f"{cmp['mismatched_acks']} acknowledged grab(s) recorded differently: "
                + "; ".join(cmp["mismatched_examples"])
            )
        ids = [audit_mod.envelope_key(e["id"]) for e in ledger["envelopes"]]
        partial = None
        if self.load.refunds:
            failures += self._refunds(ledger, ids, refunded, final)
        if final:
            partial = self._partial_index(ids)
        if partial:
            failures.append(f"{len(partial)} index entr(ies) without a whole envelope: {partial[:5]}")
        return {
            "label": label,
            "at_s": round(started - t0, 2),
            "after_id": after,
            "envelopes": len(ids),
            "source": "ledger export",
            "grabs": audit.grabs,
            "refunds": audit.refunds,
            "acks_checked": len(acks),
            "lost_acks": cmp["lost_acks"],
            "lost_acks_beyond_promise": len(beyond),
            "mismatched_acks": cmp["mismatched_acks"],
            "partial_index_entries": None if partial is None else len(partial),
            "ok": not failures,
            "failures": failures,
            "seconds": round(time.monotonic() - started, 2),
            "money": {
                "total_cents": sum(int(e["total_cents"]) for e in ledger["envelopes"]),
                "remaining_cents": sum(int(e["remaining_cents"]) for e in ledger["envelopes"]),
                "refunded_cents": sum(int(e.get("refunded_cents", 0)) for e in ledger["envelopes"]),
                "grabbed_cents": sum(int(e["amount_cents"]) for e in ledger["entries"] if e["kind"] == "grab"),
            },
        }

    def _refunds(self, ledger: dict, ids: list, refunded: dict, final: bool) -> list[str]:
        """Every expired envelope refunded exactly once; orphans adopted; the refunded prefix settled."""
        st = self.load.state
        refunds = Counter(audit_mod.envelope_key(e["envelope_id"]) for e in ledger["entries"] if e["kind"] == "refund")
        wrong = [
            (i, refunds[i]) for i in ids if refunds[i] > 1 or ((final or refunded.get(i) in DONE) and refunds[i] != 1)
        ]
        for i in ids:
            if i not in st.expires_at:  # created, answer lost: refund it too, surely expired by then
                self.orphans += 1
                self.load.adopt(i, time.time() + self.load.cfg.expires_s[1])
        for i in sorted(ids) if self.windowed else ():  # settle the refunded prefix
            if refunded.get(i) not in DONE:
                break
            self.settled_below = i + 1
        return (
            [f"{len(wrong)} expired envelope(s) not refunded exactly once (id, refunds): {wrong[:5]}"] if wrong else []
        )

    def _client_side(self, label: str, started: float, acks: list) -> dict:
        """No export: the storm's client-side audit on every grant the soak saw."""
        st = self.load.state
        grants = [[o.job.envelope_id, o.job.user, o.amount_cents] for o in acks]  # one grant per job
        audit = audit_client.audit_grants(grants, dict(st.envelopes))
        failures = list(audit.messages())
        return {
            "label": label,
            "at_s": round(started - self.load.t0, 2),
            "after_id": 0,
            "envelopes": len(st.envelopes),
            "source": "client side, no ledger export",
            "grabs": audit.grabs,
            "refunds": 0,
            "acks_checked": len(acks),
            "lost_acks": None,
            "lost_acks_beyond_promise": None,
            "partial_index_entries": None,
            "ok": not failures,
            "failures": failures,
            "seconds": round(time.monotonic() - started, 2),
            "money": {"grabbed_cents": sum(g[2] for g in grants)},
        }

    def _partial_index(self, ids: list) -> list[int] | None:
        """Ids in Redis' envelope index that the ledger skipped (no meta hash): a torn create."""
        if not self.redis_url or not self.redis_url.startswith("redis://"):
            return None
        import redis

        from hongbao.loadtests.service.stores.redis_store import INDEX_KEY

        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            members = cast("list[str]", client.zrange(INDEX_KEY, 0, -1))  # decode_responses: str members
            return sorted(set(int(i) for i in members) - set(ids))
        finally:
            client.close()
