"""Report section for summary.json (written by ``hongbao run``): what ran, how it went, the headlines.

``headlines(run_dir)`` reads the other results of the run folder (benchmark.json, fairness.json,
storm.json, capacity.json) and picks the few figures a newcomer should see first.
"""

from __future__ import annotations

import json
from pathlib import Path

from hongbao.harness.report.section import Section


def _read(run_dir: Path, name: str) -> dict | None:
    try:
        return json.loads((run_dir / name).read_text())
    except (OSError, ValueError):
        return None


def _bench(doc: dict) -> list[tuple[str, str]]:
    best = None
    for b in doc.get("benchmarks", []):
        e = b.get("extra_info") or {}
        if e.get("algorithm") == "double_mean" and e.get("impl") == "serial" and e.get("shares_per_second"):
            if best is None or abs(e.get("count", 0) - 10) < abs(best.get("count", 0) - 10):
                best = e
    if best is None:
        return []
    out = [("double_mean, Numba serial", f"{best['shares_per_second']:,.0f} shares/s (count {best.get('count')})")]
    if best.get("speedup_vs_python"):
        out.append(("  vs pure-Python baseline", f"{best['speedup_vs_python']:,.0f}x faster"))
    return out


def _fairness(doc: dict) -> list[tuple[str, str]]:
    fair = [n for n, e in doc.get("algorithms", {}).items() if e.get("position_fair")]
    unfair = [n for n, e in doc.get("algorithms", {}).items() if e.get("position_fair") is False]
    return [("position-fair", ", ".join(fair) or "none"), ("NOT position-fair", ", ".join(unfair) or "none")]


def _storm(doc: dict) -> list[tuple[str, str]]:
    tot = doc.get("totals") or {}
    out = []
    if tot.get("grabs_per_s") is not None:
        out.append(("storm grabs/s", f"{tot['grabs_per_s']:,.0f}"))
    if doc.get("grab_p99_ms") is not None:
        out.append(("storm grab p50 / p99", f"{doc.get('grab_p50_ms', 0):.2f} / {doc['grab_p99_ms']:.2f} ms"))
    audit = doc.get("audit") or {}
    if "ok" in audit:
        out.append(("post-storm audit", "clean" if audit["ok"] else "FAILED"))
    if doc.get("load_generator_saturated"):
        out.append(("load generator", "saturated: grabs/s is Locust's ceiling, not the service's"))
    return out


def _capacity(doc: dict) -> list[tuple[str, str]]:
    out = []
    for ramp in doc.get("ramps", []):
        k = ramp.get("knee") or {}
        if k.get("grabs_per_second"):
            bound = " (lower bound)" if k.get("lower_bound") else ""
            out.append(
                (
                    f"knee, {ramp['label']}",
                    f"{k['grabs_per_second']:,.0f} grabs/s{bound}, "
                    f"limited by {k.get('limiting', '?').replace('_', ' ')}",
                )
            )
    t = doc.get("target") or {}
    for row in doc.get("projection", []):
        if row["quantity"] in ("service cores", "Redis shards"):
            out.append((f"{row['quantity']} for {t.get('title', 'the target')}", f"{row['value']:,}"))
    return out


def headlines(run_dir: Path) -> list[tuple[str, str]]:
    """(label, value) pairs from the run folder's results; kinds that are absent are skipped."""
    run_dir = Path(run_dir)
    out: list[tuple[str, str]] = []
    for name, pick in (
        ("benchmark.json", _bench),
        ("fairness.json", _fairness),
        ("storm.json", _storm),
        ("capacity.json", _capacity),
    ):
        doc = _read(run_dir, name)
        if doc is not None:
            try:
                out += pick(doc)
            except (KeyError, TypeError, ValueError):
                out.append((name, "present but not readable as expected"))
    return out


def render(run_dir: Path) -> Section | None:
    """The run's summary section, or None without summary.json."""
    summary = _read(Path(run_dir), "summary.json")
    if summary is None:
        return None
    lines = ["| stage | result | seconds | detail |", "|---|---|---:|---|"]
    for s in summary.get("stages", []):
        mark = {"ok": "ok", "failed": "**FAILED**", "skipped": "skipped"}.get(s["status"], s["status"])
        lines.append(f"| {s['name']} | {mark} | {s.get('seconds', 0):.1f} | {s.get('detail', '')} |")
    heads = summary.get("headlines") or headlines(Path(run_dir))
    if heads:
        lines += ["", "| headline | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in heads]
    seed = summary.get("seed")
    seed_text = f"Seed {seed} for every stage" if seed is not None else "Each stage used its own seed from seeds/"
    lines += [
        "",
        f"{seed_text}; measured on {summary.get('machine', 'this machine')}. "
        "Figures from a shared or small machine are lower bounds for production hardware.",
    ]
    return Section(title="Summary (hongbao run)", markdown="\n".join(lines) + "\n")
