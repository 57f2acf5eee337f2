"""The few lines ``hongbao storm`` prints when a storm ends."""

from __future__ import annotations

from rich.console import Console


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def print_summary(outcome) -> None:
    con = Console(stderr=False, highlight=False)
    d = outcome.data
    if "totals" in d:
        t = d["totals"]
        a = d["audit"]
        con.print(
            f"[bold]storm {d['scenario']['name']}[/] ({d['load_model']['model']} model, "
            f"store {d['store'] or d['host']}): {t['grabs_ok']:,} grabs, "
            f"{t['grabs_per_s']:,.0f} grabs/s, {t['requests_per_s']:,.0f} req/s, "
            f"grab p50 {d['grab_p50_ms']} ms, p99 {d['grab_p99_ms']} ms, "
            f"errors {t['failures']}/{t['requests']}"
        )
        con.print(
            f"audit ({a.get('source', 'ledger export')}): {'clean' if a['ok'] else 'FAILED'} "
            f"({a['envelopes']} envelopes, "
            f"{a['grabs']} grabs; Jain's index of grabs per user "
            f"{_f(a['access_fairness']['jain_index'])}, of success rate "
            f"{_f(a['access_fairness'].get('jain_index_success_rate'))})"
        )
        if a.get("checks_not_run"):
            con.print("not checked without a ledger export: " + ", ".join(c["check"] for c in a["checks_not_run"]))
        if d.get("machine_busy"):
            con.print(
                f"[yellow]machine busy[/]: {d['machine_note']} - other work competed for the "
                "cores; rates and latencies are lower bounds"
            )
        if d["load_generator_saturated"]:
            con.print(
                f"[yellow]load generator saturated[/]: {d['saturation_note']} - "
                "this throughput is Locust's ceiling, not the service's capacity"
            )
        for row in d["slo"]:
            con.print(f"SLO {row['slo']}: {'ok' if row['ok'] else 'BREACH'} (observed {row['observed']})")
    for reason in outcome.reasons:
        con.print(f"[red]{d['exit']['name']}[/]: {reason}")
    con.print(f"wrote {outcome.path}")
