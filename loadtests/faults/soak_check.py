"""The soak's checker (Jepsen's bank checker, for grabs): run at every fault's recovery on the
envelopes not yet settled, and at the end on the whole ledger.

- money conserved to the cent and no double pay-out: loadtests/audit.py on the ledger;
- every acknowledged grab is in the ledger with the amount and seq it was acknowledged with,
  except what the fsync policy allows to be lost (promises.py: under everysec/no, grabs
  acknowledged at most AOF_POSTPONE_S before a redis-server SIGKILL);
- every expired envelope refunded exactly once (one refund entry once the refunder is done; at the
  end, every envelope), and envelopes created without the client seeing the answer are adopted;
- at the end on Redis: no index entry without its whole envelope (the atomic create).

An envelope is settled once a check saw it refunded; later checks start after the settled ones.
"""
from __future__ import annotations

import time
from collections import Counter

from hongbao.loadtests import audit as audit_mod
from hongbao.loadtests.faults.client import request
from hongbao.loadtests.faults.promises import AOF_POSTPONE_S
from hongbao.loadtests.faults.run import _compare
from hongbao.loadtests.faults.soak_load import Load
from hongbao.loadtests.storm.procs import fetch_ledger

DONE = ("ok", "already_refunded")


class Checker:
    def __init__(self, base_url: str, load: Load, fsync: str | None, redis_url: str | None):
        self.base_url, self.load, self.fsync, self.redis_url = base_url, load, fsync, redis_url
        self.settled_below = 1
        self.redis_kills_s: list[float] = []   # seconds after t0 of every redis-server SIGKILL
        self.orphans = 0

    def _fetch(self, after_id: int) -> dict:
        deadline, last = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:  # the whole ledger page by page; a window (a few thousand envelopes) in one answer
                if not after_id:
                    return fetch_ledger(self.base_url)
                return request(self.base_url, "GET", f"/ledger?after_id={after_id}", deadline_s=30)
            except Exception as exc:  # noqa: BLE001 - the service may still be coming back
                last = exc
                time.sleep(0.5)
        raise RuntimeError(f"GET /ledger failed for 60 s: {last}")

    def allowed_loss(self, acked_at_s: float) -> bool:
        """Is losing a grab acknowledged at ``acked_at_s`` within the fsync policy's promise?"""
        return self.fsync in ("everysec", "no") and any(
            0.0 <= k - acked_at_s <= AOF_POSTPONE_S for k in self.redis_kills_s)

    def check(self, label: str, *, final: bool = False) -> dict:
        """Check the unsettled envelopes (``final``: all of them); a dict of figures and failures."""
        st, t0 = self.load.state, self.load.t0
        first = st.first_id or 1          # a store the soak did not start may hold older envelopes
        after = max(first, 1 if final else self.settled_below) - 1
        started = time.monotonic()
        refunded = dict(st.refunded)                       # snapshots BEFORE the ledger is read:
        acks = [o for eid in [e for e in list(st.acks_by_env) if e > after]  # all of these must be in it
                for o in list(st.acks_by_env[eid])]
        ledger = self._fetch(after)
        audit = audit_mod.audit_ledger(ledger)
        failures = list(audit.messages())
        cmp = _compare(acks, ledger, None)
        beyond = [a for a in cmp["lost_acked_at_s"] if not self.allowed_loss(a)]
        if beyond:
            failures.append(f"{len(beyond)} acknowledged grab(s) missing from the ledger beyond the "
                            f"fsync={self.fsync} promise: " + "; ".join(cmp["lost_examples"]))
        if cmp["mismatched_acks"]:
            failures.append(f"{cmp['mismatched_acks']} acknowledged grab(s) recorded differently: "
                            + "; ".join(cmp["mismatched_examples"]))
        refunds = Counter(int(e["envelope_id"]) for e in ledger["entries"] if e["kind"] == "refund")
        ids = sorted(int(e["id"]) for e in ledger["envelopes"])
        wrong = [(i, refunds[i]) for i in ids if refunds[i] > 1 or
                 ((final or refunded.get(i) in DONE) and refunds[i] != 1)]
        if wrong:
            failures.append(f"{len(wrong)} expired envelope(s) not refunded exactly once (id, refunds): {wrong[:5]}")
        for i in ids:
            if i not in st.expires_at:                      # created, answer lost: refund it too
                self.orphans += 1
                env = request(self.base_url, "GET", f"/envelopes/{i}", deadline_s=30)
                self.load.adopt(i, float(env["expires_at"]))
        for i in ids:                                       # settle the refunded prefix
            if refunded.get(i) not in DONE:
                break
            self.settled_below = i + 1
        partial = self._partial_index(ids) if final else None
        if partial:
            failures.append(f"{len(partial)} index entr(ies) without a whole envelope: {partial[:5]}")
        return {"label": label, "at_s": round(started - t0, 2), "after_id": after, "envelopes": len(ids),
                "grabs": audit.grabs, "refunds": audit.refunds, "acks_checked": len(acks),
                "lost_acks": cmp["lost_acks"], "lost_acks_beyond_promise": len(beyond),
                "partial_index_entries": None if partial is None else len(partial),
                "ok": not failures, "failures": failures, "seconds": round(time.monotonic() - started, 2),
                "money": {"total_cents": sum(int(e["total_cents"]) for e in ledger["envelopes"]),
                          "remaining_cents": sum(int(e["remaining_cents"]) for e in ledger["envelopes"]),
                          "refunded_cents": sum(int(e["refunded_cents"]) for e in ledger["envelopes"]),
                          "grabbed_cents": sum(int(e["amount_cents"]) for e in ledger["entries"]
                                               if e["kind"] == "grab")}}

    def _partial_index(self, ids: list[int]) -> list[int] | None:
        """Ids in Redis' envelope index that the ledger skipped (no meta hash): a torn create."""
        if not self.redis_url or not self.redis_url.startswith("redis://"):
            return None
        import redis

        from hongbao.loadtests.service.stores.redis_store import INDEX_KEY
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            return sorted(set(int(i) for i in client.zrange(INDEX_KEY, 0, -1)) - set(ids))
        finally:
            client.close()
