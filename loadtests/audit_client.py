"""The audit a storm can still make when the service has no ledger export: from what the grabs
returned through the adapter (every grant: envelope, user, amount) and the envelopes the storm
created (total, count, minimum).

Checks (each a violation fails the audit, exit code AUDIT_FAILED):
- no user granted twice in one envelope (a retry must come back as a repeat, not a second grant);
- grants per envelope never above its count, and never above its total;
- every grant at least the envelope's minimum;
- an envelope granted ``count`` times was paid exactly its total (a lost or created cent).
The report names what it cannot check without the service's own books (``NOT_RUN``).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from hongbao.loadtests.audit import AuditResult, Check, jain_index

NOT_RUN = [
    {"check": "conservation", "why": "needs the service's remaining and refunded amounts (ledger export)"},
    {
        "check": "count never exceeded (service books)",
        "why": "needs the service's remaining_count and seq values (ledger export)",
    },
    {"check": "acknowledged grabs are in the ledger", "why": "needs the service's ledger (ledger export)"},
    {
        "check": "grants the storm did not see",
        "why": "a grant whose answer was lost (timeout) or made by another client is invisible from this side",
    },
]


def audit_grants(
    grants: list[list], envelopes: dict[str, list[int]], *, attempts: dict[str, int] | None = None
) -> AuditResult:
    """Client-side audit. ``grants``: [envelope id, user, amount_cents] per GRANTED answer;
    ``envelopes``: envelope id -> [total_cents, count, min_cents] of the envelopes the storm made.
    Grants on envelopes the storm did not create are checked for duplicates only."""
    double, over_count = Check("no user granted twice in one envelope", True), Check("grants within count", True)
    over_total, minimum = Check("grants within total", True), Check("every grant >= min_cents", True)
    complete = Check("a fully granted envelope paid exactly its total", True)
    per_user: Counter = Counter()
    n: Counter[str] = Counter()
    paid: defaultdict[str, int] = defaultdict(int)
    for eid, user, amount in grants:
        eid = str(eid)
        per_user[(eid, user)] += 1
        n[eid] += 1
        paid[eid] += int(amount)
        spec = envelopes.get(eid)
        if spec and int(amount) < spec[2]:
            minimum.fail(f"envelope {eid}: user {user!r} granted {amount} cents < min {spec[2]}")
    for (eid, user), k in sorted(per_user.items(), key=lambda kv: -kv[1]):
        if k > 1:
            double.fail(f"envelope {eid}: user {user!r} granted {k} times")
    for eid, (total, count, _) in sorted(envelopes.items()):
        if n[eid] > count:
            over_count.fail(f"envelope {eid}: {n[eid]} grants > count {count}")
        if paid[eid] > total:
            over_total.fail(f"envelope {eid}: granted {paid[eid]} cents > total {total}")
        if n[eid] == count and paid[eid] != total:
            what = f"lost {total - paid[eid]}" if paid[eid] < total else f"created {paid[eid] - total}"
            complete.fail(f"envelope {eid}: {count} grants paid {paid[eid]} cents of {total} ({what} cent(s))")
    users = set(attempts or {}) | {u for _, u in per_user}
    granted = Counter(u for (_, u), k in per_user.items() for _ in range(k))
    return AuditResult(
        checks=[double, over_count, over_total, minimum, complete],
        envelopes=len(envelopes),
        grabs=len(grants),
        refunds=0,
        source="client side, no ledger export",
        not_run=list(NOT_RUN),
        fairness_by_order={},
        access_fairness={
            "users": len(users),
            "users_with_a_grab": len(granted),
            "jain_index": jain_index(granted.get(u, 0) for u in users),
            "basis": "users who sent a grab" if attempts else "users granted",
            "jain_index_success_rate": jain_index(granted.get(u, 0) / n for u, n in attempts.items() if n > 0)
            if attempts
            else None,
        },
        reconciliation={"grants_seen": len(grants)},
    )


def check_client_behaviours(answers: list[list]) -> list[Check]:
    """What a double tap, a retry and a re-tap must give, from the answers each got (``answers``:
    [envelope id, user, behaviour, [[outcome, amount_cents], ...]] per behaviour played,
    loadtests/storm/grabber.py): at most one payment per user and envelope, and once a user was
    granted, every other answer repeats that grant (``repeat`` with the same amount, never a
    second grant, sold_out or expired). Failed requests (``error``) say nothing and are skipped."""
    once = Check("client behaviours: at most one payment per user and envelope", True)
    same = Check("client behaviours: the first answer repeated", True)
    for eid, user, behaviour, got in answers:
        paid = [a for o, a in got if o == "granted"]
        if len(paid) > 1:
            once.fail(f"{behaviour}: envelope {eid}: user {user!r} paid {len(paid)} times ({paid} cents)")
        first = paid[0] if paid else next((a for o, a in got if o == "repeat" and a is not None), None)
        if first is None:
            continue
        rest = [tuple(x) for x in got]
        if paid:
            rest.remove(("granted", first))
        wrong = [(o, a) for o, a in rest if o != "error" and (o, a) != ("repeat", first)]
        if wrong:
            same.fail(
                f"{behaviour}: envelope {eid}: user {user!r} granted {first} cents, then answered "
                + ", ".join(o if a is None else f"{o} {a}" for o, a in wrong)
            )
    return [once, same]
