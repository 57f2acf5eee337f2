"""Report section for storm.json (``hongbao storm``): throughput, exact latency percentiles, the
post-storm audit, SLOs, and what saturated, with three plots (grabs/s over time, grab latency
over time, CPU of load generator / service / store)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hongbao.harness.report.plots import save  # noqa: E402
from hongbao.harness.report.section import Section  # noqa: E402

TITLE = "Grab storm (Locust)"
ROLE_COLORS = {"load_generator": "tab:green", "service": "tab:blue", "store": "tab:red"}


def _save(fig, path: Path) -> Path:
    return save(fig, path, dpi=90)


def plot_throughput(doc: dict, path: Path) -> Path | None:
    rows = doc.get("timeline") or []
    if not rows:
        return None
    t = [r["t_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.plot(t, [r["grabs_ok"] for r in rows], label="new grabs/s", color="tab:green")
    ax.plot(t, [r["sold_out"] for r in rows], label="sold out/s (expected)", color="tab:orange")
    ax.plot(t, [r["failures"] for r in rows], label="failures/s", color="tab:red")
    rel = (doc.get("scenario") or {}).get("hot_release_s")
    if rel:
        ax.axvline(rel, color="black", linestyle=":", label="hot envelopes open (T0)")
    ax.set_xlabel("seconds into the storm")
    ax.set_ylabel("per second")
    ax.set_title(f"{doc['scenario']['name']}: grabs per second")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_latency(doc: dict, path: Path) -> Path | None:
    rows = [r for r in doc.get("timeline") or [] if r.get("grab_p50_ms") is not None]
    lat = (doc.get("latency_ms") or {}).get("grab (all outcomes)") or {}
    if not rows:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.0), gridspec_kw={"width_ratios": [2, 1]})
    t = [r["t_s"] for r in rows]
    ax1.plot(t, [r["grab_p50_ms"] for r in rows], label="p50", color="tab:blue")
    ax1.plot(t, [r["grab_p99_ms"] for r in rows], label="p99", color="tab:purple")
    ax1.set_yscale("log")
    ax1.set_xlabel("seconds into the storm")
    ax1.set_ylabel("grab latency (ms, log)")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3, which="both")
    keys = [k for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms") if lat.get(k) is not None]
    ax2.bar([k.replace("_ms", "") for k in keys], [lat[k] for k in keys], color="tab:purple")
    ax2.set_yscale("log")
    ax2.set_title("whole storm (µs resolution)", fontsize=8)
    ax2.tick_params(axis="x", labelsize=7)
    return _save(fig, path)


def plot_cpu(doc: dict, path: Path) -> Path | None:
    cpu = doc.get("cpu") or {}
    samples = cpu.get("samples") or []
    if not samples:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    for role, color in ROLE_COLORS.items():
        if any(s.get(f"{role}_processes") for s in samples):
            ax.plot([s["t_s"] for s in samples], [s.get(role, 0) for s in samples], label=role, color=color)
    if any("machine" in s for s in samples):
        ax.plot(
            [s["t_s"] for s in samples],
            [s.get("machine", 0) for s in samples],
            label="whole machine",
            color="black",
            alpha=0.35,
        )
    ax.axhline(100 * (cpu.get("cores") or 1), color="black", linestyle=":", label="all cores")
    ax.set_xlabel("seconds since Locust started")
    ax.set_ylabel("CPU % (100 = one core)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _claim(algorithm: str | None) -> bool | None:
    if algorithm is None:
        return None
    try:
        from hongbao.kernels import ALGORITHMS

        return ALGORITHMS[algorithm].position_fair
    except (ImportError, KeyError):
        return None


def _fmt(v, spec: str = ",.0f") -> str:
    return "n/a" if v is None else format(v, spec)


def markdown(doc: dict) -> str:
    sc, tot, audit = doc["scenario"], doc["totals"], doc["audit"]
    lat = doc["latency_ms"].get("grab (all outcomes)", {})
    lm = doc.get("load_model") or {}
    model = (
        f"open model ({_fmt(lm.get('offered_grabs'))} grabs offered on schedule, "
        f"{_fmt(lm.get('offered_grabs_per_s_at_peak'))} grabs/s at peak; latency from each grab's "
        f"intended start)"
        if lm.get("open")
        else "closed model (users wait for answers)"
    )
    where = doc.get("store") or doc.get("host")
    lines = [
        f"Scenario **{sc['name']}** ({sc.get('description', '')}), seed {sc['seed']}, "
        f"{sc['duration_s']:g} s, shape {sc['shape']}, {model}; store `{where}`"
        + (" driven directly (no HTTP)" if doc.get("redis_direct") else "")
        + (
            f" through the adapter `{doc['target']['adapter']}`"
            if (doc.get("target") or {}).get("adapter", "reference") != "reference"
            else ""
        )
        + ".",
        "",
        "| grabs/s | requests/s | new grabs | sold out | errors | p50 | p99 | p99.9 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {_fmt(tot['grabs_per_s'])} | {_fmt(tot['requests_per_s'])} | {tot['grabs_ok']:,} | "
        f"{tot['sold_out']:,} | {tot['failures']:,}/{tot['requests']:,} | {_fmt(lat.get('p50_ms'), '.3g')} ms | "
        f"{_fmt(lat.get('p99_ms'), '.3g')} ms | {_fmt(lat.get('p99.9_ms'), '.3g')} ms |",
        "",
        "Latency is recorded per request in microseconds (Locust's own table rounds to whole "
        "milliseconds below 100 ms).",
        "",
    ]
    if lm.get("open"):
        svc = doc.get("service_time_ms") or {}
        sent = doc.get("send_lateness_ms") or {}
        late = ", ".join(f"{n:,} at {s} s" for s, n in list(lm.get("dropped_by_second", {}).items())[:8])
        lines += [
            f"- service time (from the actual send): p50 {_fmt(svc.get('p50_ms'), '.3g')} ms, "
            f"p99 {_fmt(svc.get('p99_ms'), '.3g')} ms; grabbers at most {_fmt(lm.get('grabbers_peak'))} "
            f"of {lm.get('max_users')}",
            f"- sent after the intended start (the generator's own lateness, part of the latency above): "
            f"p50 {_fmt(sent.get('p50_ms'), '.3g')} ms, p99 {_fmt(sent.get('p99_ms'), '.3g')} ms; the generator's "
            f"longest garbage-collector pause {_fmt(lm.get('generator_gc_longest_pause_ms'), '.3g')} ms",
            f"- dropped grabs (not started within {lm.get('tolerance_ms'):g} ms of their intended start): "
            f"**{lm.get('dropped_grabs', 0):,}** ({_fmt((lm.get('dropped_ratio') or 0) * 100, '.2f')}% of "
            f"those offered){': ' + late if late else ''}",
            "",
        ]
    clients = doc.get("clients") or {}
    if any(c.get("played") for c in clients.values()):
        labels = {"double_tap": "double taps", "retry": "retries after a client timeout", "re_tap": "re-taps"}
        lines += [
            "Clients as they are: "
            + ", ".join(f"{labels.get(name, name)} {c['played']:,}" for name, c in clients.items())
            + " (the audit checks "
            "each got at most one payment and the first answer repeated).",
            "",
        ]
    ran = audit.get("checks_ran") or [
        "conservation",
        "no double grab",
        "count never exceeded",
        "acknowledged grabs are in the ledger",
    ]
    lines.append(
        f"**Post-storm audit: {'clean' if audit['ok'] else 'FAILED'}** over {audit['envelopes']:,} "
        f"envelopes and {audit['grabs']:,} grabs, from the {audit.get('source', 'ledger export')} "
        f"(checks run: {', '.join(ran)})."
    )
    for c in audit.get("checks_not_run", []):
        lines.append(f"- not checked: {c['check']} ({c['why']})")
    for f in audit.get("failures", []):
        lines.append(f"- {f}")
    rec = audit.get("reconciliation", {})
    if "acknowledged_grabs" in rec or "ledger_grabs_this_run" in rec:
        lines.append(
            f"Locust saw {rec.get('acknowledged_grabs', 'n/a')} grabs acknowledged; the ledger "
            f"holds {rec.get('ledger_grabs_this_run', 'n/a')} for this storm's users."
        )
    fo, af = audit.get("fairness_by_order", {}), audit.get("access_fairness", {})
    claim = _claim(sc.get("algorithm"))
    if claim is not None and fo.get("scorecard_by_size"):
        lines.append(
            f"- `{sc.get('algorithm')}` is {'' if claim else 'not '}claimed position-fair "
            "(kernels.ALGORITHMS); the storm's real grabs say:"
        )
    for g in fo.get("scorecard_by_size", []):
        lines.append(
            f"- grab-order fairness, {g['envelopes']} envelopes of {g['total_cents']} cents / "
            f"{g['count']}: {'position-fair' if g['position_fair'] else 'NOT position-fair'} "
            f"(min p = {_fmt(g['min_p_value'], '.3g')})"
        )
    if fo.get("p_value") is not None:
        lines.append(
            f"- all complete envelopes ({fo['complete_envelopes']}): Kruskal-Wallis across "
            f"positions p = {fo['p_value']:.3g}"
        )
    lines.append(
        f"- access fairness: Jain's index of grabs per user {_fmt(af.get('jain_index'), '.3f')} over "
        f"{af.get('users')} users ({af.get('basis')}; users joining late in a shape get fewer), "
        f"of success rate per user {_fmt(af.get('jain_index_success_rate'), '.3f')}"
    )
    lines.append("")
    for r in doc.get("slo", []):
        lines.append(f"- SLO `{r['slo']}`: {'met' if r['ok'] else '**BREACHED**'} (observed {r['observed']})")
    roles = (doc.get("cpu") or {}).get("roles", {})
    cpu_txt = ", ".join(
        f"{k} {_fmt(v.get('mean_percent'), '.0f')}% mean / {_fmt(v.get('max_percent'), '.0f')}% max"
        for k, v in roles.items()
        if v.get("processes")
    )
    lines.append(f"- CPU ({(doc.get('cpu') or {}).get('cores')} cores): {cpu_txt}")
    if doc.get("machine_note"):
        lines.append(
            f"- {'**Machine busy**: ' if doc.get('machine_busy') else ''}{doc['machine_note']}"
            + (
                "; other work competed for the cores, so rates and latencies are lower bounds"
                if doc.get("machine_busy")
                else ""
            )
        )
    if doc.get("load_generator_saturated"):
        lines.append(
            f"- **Load generator saturated** ({doc.get('saturation_note')}): this throughput is "
            "Locust's ceiling, not the service's capacity."
        )
    lines.append(f"- exit: {doc['exit']['name']}")
    return "\n".join(lines) + "\n"


def render(run_dir: Path) -> Section | None:
    """The storm section, or None when the run has no storm.json (or only an UNUSABLE stub)."""
    path = Path(run_dir) / "storm.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if "totals" not in doc:
        reasons = "; ".join(doc.get("exit", {}).get("reasons", []))
        return Section(TITLE, f"The storm could not run: {reasons}\n")
    run_dir = Path(run_dir)
    figures = [
        p
        for p in (
            plot_throughput(doc, run_dir / "storm_grabs.png"),
            plot_latency(doc, run_dir / "storm_latency.png"),
            plot_cpu(doc, run_dir / "storm_cpu.png"),
        )
        if p is not None
    ]
    return Section(TITLE, markdown(doc), figures=figures)
