"""What an acknowledged grab survives, per store, fault and Redis fsync policy: the README's
durability statement in code, so fault runs check exactly what the README promises.

Redis appends each grab script's effects to the AOF buffer and write()s that buffer to the file
before it sends replies, so a redis-server *process* crash (SIGKILL) loses nothing acknowledged,
whatever the fsync policy, with one exception: under ``everysec`` Redis postpones that write for
up to 2 s while a background fsync is still running (slow disk), and replies meanwhile. The fsync
policy decides what an *OS* crash or power loss keeps: ``always`` everything acknowledged,
``everysec`` all but about the last 1-2 s, ``no`` whatever the kernel had flushed (Linux: about
30 s of writeback). Fault runs here SIGKILL processes; they do not crash the OS.
"""

from __future__ import annotations

from hongbao.loadtests.audit import envelope_key

AOF_POSTPONE_S = 2.0  # Redis' longest postponement of an everysec AOF write

PROMISES = {
    ("redis", "redis", "always"): "no acknowledged grab is lost",
    ("redis", "redis", "everysec"): f"no grab acknowledged more than {AOF_POSTPONE_S:g} s before the crash is lost",
    ("redis", "redis", "no"): f"no grab acknowledged more than {AOF_POSTPONE_S:g} s before the crash is lost",
    ("redis", "service", "always"): "no acknowledged grab is lost (the service holds no state)",
    ("redis", "service", "everysec"): "no acknowledged grab is lost (the service holds no state)",
    ("redis", "service", "no"): "no acknowledged grab is lost (the service holds no state)",
    ("memory", "service", None): "none: a restarted memory store starts empty",
    ("redis", "redis", None): "none: without appendonly a restarted redis-server starts empty",
}
NO_PROMISE = {("memory", "service", None), ("redis", "redis", None)}
EXTERNAL = {
    "durable": "no acknowledged grab is lost (stated with --promise durable)",
    "none": "none (stated with --promise none): lost acknowledgements are counted, not failed",
}
ACK_CHECK = "acknowledged grabs are in the ledger"


def promise(store: str, target: str, fsync: str | None, stated: str = "durable") -> str:
    """The README's promise for this combination (a service the kit did not start: what the user
    ``stated``, durable or none); ValueError when there is none to test."""
    if store == "external":
        return EXTERNAL[stated]
    key = (store, target, fsync if store == "redis" else None)
    if key not in PROMISES:
        raise ValueError(f"no durability promise for store={store} fault=kill-{target} fsync={fsync}")
    return PROMISES[key]


def broken(d: dict) -> list[str]:
    """Why the run in ``d`` (run.py's figures) breaks its promise or the audit; [] when it holds."""
    reasons = []
    if d["injector_error"] or d["killed_at_s"] is None or d["up_at_s"] is None:
        reasons.append(f"the fault did not complete: {d['injector_error'] or 'not fired'}")
    if (d["store"], d["fault"].split("@")[0][5:], d["fsync"]) in NO_PROMISE:
        return reasons  # promises nothing across a restart; the figures say what was lost
    reasons += [f"audit: {m}" for m in d["audit_failures"] if not m.startswith(ACK_CHECK)]
    if d["promise"] == EXTERNAL["none"]:
        return reasons  # money and pay-outs still hold; what a restart lost is counted, not failed
    if d["unresolved"]:
        reasons.append(f"{d['unresolved']} grab(s) got no final answer after the restart")
    if d["mismatched_acks"]:
        reasons.append(
            f"{d['mismatched_acks']} acknowledged grab(s) recorded differently: " + "; ".join(d["mismatched_examples"])
        )
    window = AOF_POSTPONE_S if d["fault"].startswith("kill-redis") and d["fsync"] in ("everysec", "no") else 0.0
    if d["lost_acks"] is None:
        return reasons  # no ledger export: the client-side audit above is all there is
    too_old = [s for s in d["lost_acks_s_before_kill"] if s > window]
    unexplained = d["lost_acks"] - len(d["lost_acks_s_before_kill"])  # lost with no kill time known
    if too_old or unexplained or (window == 0.0 and d["lost_acks"]):
        reasons.append(
            f"{d['lost_acks']} acknowledged grab(s) missing from the ledger, promise was: "
            f"{d['promise']} (seconds before the kill: {d['lost_acks_s_before_kill'][:10]}; "
            + "; ".join(d["lost_examples"])
            + ")"
        )
    return reasons


def compare_acks(outcomes: list, ledger: dict, killed_at_s: float | None) -> dict:
    """Every acknowledged grab (client.GrabRecord) against the ledger: lost, or recorded with another
    amount or seq (each compared when the answer carried it)."""
    grabs = {(e["envelope_id"], e["user"]): e for e in ledger["entries"] if e["kind"] == "grab"}
    keyed: dict | None = None  # by envelope_key, built only if an id came back in another type
    lost, mismatched, lost_times = [], [], []
    for o in outcomes:
        if o.status != "ack":
            continue
        entry = grabs.get((o.job.envelope_id, o.job.user))
        if entry is None:
            if keyed is None:
                keyed = {(envelope_key(eid), user): e for (eid, user), e in grabs.items()}
            entry = keyed.get((envelope_key(o.job.envelope_id), o.job.user))
        if entry is None:
            lost.append(o)
            if killed_at_s is not None:
                lost_times.append(round(killed_at_s - o.acked_at_s, 3))
        elif (o.amount_cents is not None and int(entry["amount_cents"]) != o.amount_cents) or (
            o.seq is not None and entry.get("seq") is not None and int(entry["seq"]) != o.seq
        ):
            mismatched.append(
                f"envelope {o.job.envelope_id} user {o.job.user}: acknowledged "
                f"{o.amount_cents} cents seq {o.seq}, ledger {entry['amount_cents']} seq {entry['seq']}"
            )
    return {
        "lost_acks": len(lost),
        "lost_acks_s_before_kill": sorted(lost_times),
        "lost_acked_at_s": sorted(o.acked_at_s for o in lost),
        "lost_examples": [
            f"envelope {o.job.envelope_id} user {o.job.user} ({o.amount_cents} cents, "
            f"acknowledged at {o.acked_at_s:.3f} s)"
            for o in lost[:5]
        ],
        "mismatched_acks": len(mismatched),
        "mismatched_examples": mismatched[:5],
    }
