"""Post-storm audit of the service's ledger (GET /ledger).

Invariants (any violation fails the audit, exit code AUDIT_FAILED):
- conservation: for every envelope, sum(grabs) + remaining + refunded == total, to the cent, and
  the refund entries add up to refunded_cents (at most one refund per envelope);
- no double grab: at most one grab per (envelope, user);
- count never exceeded: grabs <= count, count - grabs == remaining_count, seq values distinct;
- every grab is at least one cent;
- reconciliation: no user was acknowledged more new grabs by the service (as Locust saw it) than
  the ledger records for that user (an acknowledged grab missing from the ledger is lost money).

Measured, not gated: amount fairness by grab order and access fairness (Jain's index of
successful grabs across the users who tried). Grab-order fairness has two parts: the kit's
fairness scorecard (harness.fairness.score_matrix) on each common envelope size with enough
fully grabbed envelopes, and over every complete envelope whatever its size, per-position
mean/std of the share relative to the envelope's mean share with a Kruskal-Wallis test.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

MAX_EXAMPLES = 5  # violations quoted per check


@dataclass
class Check:
    name: str
    ok: bool
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.violations += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(message)


@dataclass
class AuditResult:
    checks: list[Check]
    envelopes: int
    grabs: int
    refunds: int
    fairness_by_order: dict
    access_fairness: dict
    reconciliation: dict
    source: str = "ledger export"
    not_run: list[dict] = field(default_factory=list)  # {"check", "why"}: what this audit could not see

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def messages(self) -> list[str]:
        """One line per failed check, quoting the first violations."""
        return [f"{c.name}: {c.violations} violation(s): " + "; ".join(c.examples) for c in self.checks if not c.ok]

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "source": self.source,
            "envelopes": self.envelopes,
            "grabs": self.grabs,
            "refunds": self.refunds,
            "checks_ran": [c.name for c in self.checks],
            "checks_not_run": self.not_run,
            "checks": [c.__dict__ for c in self.checks],
            "failures": self.messages(),
            "fairness_by_order": self.fairness_by_order,
            "access_fairness": self.access_fairness,
            "reconciliation": self.reconciliation,
        }


def envelope_key(value) -> int | str:
    """An envelope id as the audit keys it: the reference service's ints stay ints (also when a
    JSON round trip made them strings); any other service's ids are opaque strings."""
    text = str(value)
    return int(text) if text.isdigit() else text


def jain_index(values) -> float | None:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 = all equal, 1/n = one user got all."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0 or not np.any(x):
        return None
    return float(x.sum() ** 2 / (x.size * np.square(x).sum()))


def fairness_by_order(
    envelopes: dict[int | str, dict], grabs: list[dict], max_positions: int = 20, min_samples: int = 5
) -> dict:
    """Per grab position (seq order within an envelope): mean/std of amount / (total/count),
    over fully grabbed envelopes; Kruskal-Wallis across the positions with enough samples."""
    by_env: dict[int, list[dict]] = defaultdict(list)
    for g in grabs:
        by_env[g["envelope_id"]].append(g)
    per_pos: dict[int, list[float]] = defaultdict(list)
    used = 0
    for eid, rows in by_env.items():
        env = envelopes.get(eid)
        if not env or len(rows) != env["count"] or env["count"] < 2:
            continue  # only complete envelopes: a partial one biases the late positions
        used += 1
        mean_share = env["total_cents"] / env["count"]
        for pos, g in enumerate(sorted(rows, key=lambda r: r["seq"])):
            if pos < max_positions:
                per_pos[pos].append(g["amount_cents"] / mean_share)
    positions = [p for p in sorted(per_pos) if len(per_pos[p]) >= min_samples]
    table = [
        {
            "position": p + 1,
            "n": len(per_pos[p]),
            "mean_relative_share": round(float(np.mean(per_pos[p])), 4),
            "std_relative_share": round(float(np.std(per_pos[p], ddof=1)), 4),
        }
        for p in positions
    ]
    out = {
        "method": "kruskal-wallis over positions (loadtests/audit.py)",
        "complete_envelopes": used,
        "positions": table,
        "statistic": None,
        "p_value": None,
    }
    if len(positions) >= 2:
        samples = [per_pos[p] for p in positions]
        if len({v for s in samples for v in s}) > 1:
            res = stats.kruskal(*samples)
            out["statistic"], out["p_value"] = float(res.statistic), float(res.pvalue)
    return out


def scorecard_by_size(
    envelopes: dict[int | str, dict], grabs: list[dict], min_envelopes: int = 30, max_groups: int = 3
) -> list[dict]:
    """The fairness scorecard (harness.fairness.score_matrix) of the most common envelope sizes
    (total_cents, count) that have at least ``min_envelopes`` fully grabbed envelopes."""
    rows: dict[int | str, list[tuple[int, int]]] = defaultdict(list)
    for g in grabs:
        rows[envelope_key(g["envelope_id"])].append((g["seq"], int(g["amount_cents"])))
    groups: dict[tuple[int, int], list[list[int]]] = defaultdict(list)
    for eid, env in envelopes.items():
        r = rows.get(eid, [])
        if env["count"] >= 2 and len(r) == env["count"] and env.get("refunded_cents", 0) == 0:
            groups[(int(env["total_cents"]), int(env["count"]))].append([a for _, a in sorted(r)])
    big = sorted((k for k, v in groups.items() if len(v) >= min_envelopes), key=lambda k: -len(groups[k]))
    if not big:
        return []
    from hongbao.harness.fairness import score_matrix  # numba-backed: imported only when needed

    out = []
    for total, count in big[:max_groups]:
        sc = score_matrix(np.asarray(groups[(total, count)], dtype=np.int64), total_cents=total, min_cents=1)
        out.append(
            {
                "total_cents": total,
                "count": count,
                "envelopes": sc["envelopes"],
                "position_fair": sc.get("position_fair"),
                "p_values": sc.get("p_values"),
                "min_p_value": sc.get("min_p_value"),
                "exact": sc.get("exact"),
                "mean_cents_by_position": [round(float(m), 2) for m in sc["positions"]["mean_cents"][:20]],
                "std_cents_by_position": [round(float(m), 2) for m in sc["positions"]["std_cents"][:20]],
            }
        )
    return out


def audit_ledger(
    ledger: dict,
    *,
    attempts: dict[str, int] | None = None,
    acknowledged: dict[str, int] | None = None,
    user_prefix: str | None = None,
) -> AuditResult:
    """Check a ledger ``{"envelopes": [...], "entries": [...]}``; see the module docstring.

    ``attempts``/``acknowledged``: per user, grab requests sent and new grabs acknowledged as
    Locust saw them (for Jain's index with the users who got nothing, and for reconciliation);
    ``user_prefix`` limits those two to this storm's users in a ledger shared with other runs.
    """
    for key in ("envelopes", "entries"):
        if not isinstance(ledger.get(key), list):
            raise ValueError(f"ledger.{key} must be a list (is this GET /ledger?)")
    envelopes = {envelope_key(e["id"]): e for e in ledger["envelopes"]}
    grabs = [e for e in ledger["entries"] if e["kind"] == "grab"]
    refunds = [e for e in ledger["entries"] if e["kind"] == "refund"]

    conservation, double, count = (
        Check("conservation", True),
        Check("no double grab", True),
        Check("count never exceeded", True),
    )
    positive, unknown = Check("every grab >= 1 cent", True), Check("entries name known envelopes", True)
    grabbed: defaultdict[int | str, int] = defaultdict(int)
    refunded: defaultdict[int | str, int] = defaultdict(int)
    n_grabs: Counter[int | str] = Counter()
    n_refunds: Counter[int | str] = Counter()
    seqs: defaultdict[int | str, list[int]] = defaultdict(list)
    seen: Counter = Counter()
    for g in grabs:
        eid = envelope_key(g["envelope_id"])
        if eid not in envelopes:
            unknown.fail(f"grab {g.get('request_id')!r} names envelope {eid}, not in the ledger")
            continue
        grabbed[eid] += int(g["amount_cents"])
        n_grabs[eid] += 1
        seqs[eid].append(g["seq"])
        seen[(eid, g["user"])] += 1
        if int(g["amount_cents"]) < 1:
            positive.fail(f"envelope {eid}: user {g['user']} got {g['amount_cents']} cents")
    for r in refunds:
        eid = envelope_key(r["envelope_id"])
        refunded[eid] += int(r["amount_cents"])
        n_refunds[eid] += 1
    for (eid, user), n in sorted(seen.items(), key=lambda kv: -kv[1]):
        if n > 1:
            double.fail(f"envelope {eid}: user {user!r} grabbed {n} times")
    for eid, env in sorted(envelopes.items(), key=lambda kv: (isinstance(kv[0], str), kv[0])):
        total, cnt = int(env["total_cents"]), int(env["count"])
        rem, rem_n = int(env["remaining_cents"]), int(env["remaining_count"])
        ref = int(env.get("refunded_cents", 0))
        s = grabbed[eid] + rem + ref
        if s != total:
            what = f"lost {total - s} cent(s)" if s < total else f"created {s - total} cent(s)"
            conservation.fail(
                f"envelope {eid}: {what} (grabbed {grabbed[eid]} + remaining {rem} "
                f"+ refunded {ref} = {s} != total {total})"
            )
        if refunded[eid] != ref or n_refunds[eid] > 1:
            conservation.fail(
                f"envelope {eid}: {n_refunds[eid]} refund entr(ies) worth "
                f"{refunded[eid]} cents, envelope says refunded {ref}"
            )
        if n_grabs[eid] > cnt:
            count.fail(f"envelope {eid}: {n_grabs[eid]} grabs > count {cnt}")
        elif cnt - n_grabs[eid] != rem_n:
            count.fail(f"envelope {eid}: count {cnt} - {n_grabs[eid]} grabs != remaining_count {rem_n}")
        if len(set(seqs[eid])) != len(seqs[eid]):
            count.fail(f"envelope {eid}: repeated seq values {sorted(seqs[eid])[:10]}")

    ledger_per_user = Counter(g["user"] for g in grabs if user_prefix is None or str(g["user"]).startswith(user_prefix))
    recon = {"ledger_grabs_this_run": sum(ledger_per_user.values())}
    checks = [conservation, double, count, positive, unknown]
    if acknowledged is not None:
        lost = Check("acknowledged grabs are in the ledger", True)
        for user, n in sorted(acknowledged.items()):
            if n > ledger_per_user.get(user, 0):
                lost.fail(f"user {user!r}: service acknowledged {n} grab(s), ledger has {ledger_per_user.get(user, 0)}")
        checks.append(lost)
        recon["acknowledged_grabs"] = sum(acknowledged.values())
        recon["unacknowledged_ledger_grabs"] = recon["ledger_grabs_this_run"] - recon["acknowledged_grabs"]
    sent = attempts or {}
    users = set(sent) | set(ledger_per_user)
    tried = [u for u in sent if sent[u] > 0]
    access = {
        "users": len(users),
        "users_with_a_grab": sum(1 for u in users if ledger_per_user.get(u, 0) > 0),
        "jain_index": jain_index(ledger_per_user.get(u, 0) for u in users),
        "basis": "users who sent a grab" if attempts else "users in the ledger",
        # users joining late in a shape send fewer grabs: their success rate is comparable
        "jain_index_success_rate": jain_index(ledger_per_user.get(u, 0) / sent[u] for u in tried) if tried else None,
    }
    return AuditResult(
        checks=checks,
        envelopes=len(envelopes),
        grabs=len(grabs),
        refunds=len(refunds),
        fairness_by_order={
            **fairness_by_order(envelopes, grabs),
            "scorecard_by_size": scorecard_by_size(envelopes, grabs),
        },
        access_fairness=access,
        reconciliation=recon,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m hongbao.loadtests.audit URL|ledger.json``: audit a service's ledger; exit 0 clean, 4 failed."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m hongbao.loadtests.audit", description=main.__doc__)
    parser.add_argument("source", help="service base URL (GET /ledger) or a saved ledger.json")
    args = parser.parse_args(argv)
    if args.source.startswith(("http://", "https://")):
        from hongbao.loadtests.storm.procs import fetch_ledger

        ledger = fetch_ledger(args.source)
    else:
        ledger = json.loads(Path(args.source).read_text())
    res = audit_ledger(ledger)
    print(
        f"audit {'clean' if res.ok else 'FAILED'}: {res.envelopes} envelopes, {res.grabs} grabs, {res.refunds} refunds"
    )
    for line in res.messages():
        print(line)
    return 0 if res.ok else 4


if __name__ == "__main__":
    raise SystemExit(main())
