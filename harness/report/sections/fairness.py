"""Report section for fairness.json: the scorecard table, std by position, calibration, the plots."""

from __future__ import annotations

import json
from pathlib import Path

from hongbao.harness.fairness.view import fmt_num as _num
from hongbao.harness.fairness.view import fmt_p as _p
from hongbao.harness.report.section import Section

TESTS = 3


def _verdict(e: dict) -> str:
    if e.get("broken"):
        f = e["exactness"]["first_failure"]
        return f"**BROKEN** (envelope {f['envelope']}: {f['problem']}); not scored"
    if not e.get("testable", True):
        return "position-fair (no share varies: nothing to test)"
    text = "position-fair" if e["position_fair"] else "**NOT position-fair**"
    return text if e["position_fair"] == e["claimed_position_fair"] else text + " — **claim failed**"


def markdown(doc: dict) -> str:
    """The section's markdown from a fairness.json document."""
    alpha = doc["alpha"]
    out = [
        f"{doc['envelopes']:,} envelopes of {doc['total_cents']:,} cents for {doc['count']} people, "
        f"seed {doc['seed']}, min {doc.get('min_cents', 1)} cents. Verdict at α = {alpha}: an algorithm is "
        f"position-fair when none of the {TESTS} exchangeability tests (position × share-bin χ², "
        f"best-luck χ², Brown–Forsythe spread; envelopes as blocks) has p < α/{TESTS} (Bonferroni).",
        "",
        "| algorithm | claims fair | mean spread (¢) | std 1st → last (¢) | P(best luck) range | Gini mean "
        "| first share vs exact law (p) | min p | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, e in doc["algorithms"].items():
        claim = "yes" if e.get("claimed_position_fair") else "no"
        if e.get("broken"):
            out.append(f"| {name} | {claim} | — | — | — | — | — | — | {_verdict(e)} |")
            continue
        std, best = e["positions"]["std_cents"], e["best_luck_prob"]
        fit = e.get("theory")
        fit_text = f"{_p(fit['p_value'])} ({fit['law']})" if fit else "—"
        out.append(
            f"| {name} | {claim} | {e['mean_spread_cents']:.1f} | {_num(std[0])} → {_num(std[-1])} | "
            f"{min(best):.3f}–{max(best):.3f} | {e['gini']['mean']:.3f} | {fit_text} | "
            f"{_p(e['min_p_value'])} | {_verdict(e)} |"
        )
    scored = {n: e for n, e in doc["algorithms"].items() if not e.get("broken")}
    if scored and doc["count"] <= 30:
        out += [
            "",
            "Std of the share by grab position (cents):",
            "",
            "| position | " + " | ".join(scored) + " |",
            "|---:|" + "---:|" * len(scored),
        ]
        for p in range(doc["count"]):
            out.append(
                f"| {p + 1} | " + " | ".join(_num(e["positions"]["std_cents"][p]) for e in scored.values()) + " |"
            )
    calib = doc.get("calibration") or {}
    if calib:
        out += [
            "",
            "False alarms of the fair algorithms over repeated seeds (one-sided binomial test of the rate against α):",
            "",
            "| algorithm | seeds × envelopes | false alarms | rate | binomial p | verdict |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, c in calib.items():
            out.append(
                f"| {name} | {c['seeds']} × {c['envelopes']:,} | {c['false_alarms']} | "
                f"{c['false_alarm_rate']:.3f} | {_p(c['binomial_p_value'])} | "
                f"{'consistent with α' if c['consistent_with_alpha'] else '**too many false alarms**'} |"
            )
    return "\n".join(out) + "\n"


def render(run_dir: Path) -> Section | None:
    """The fairness section of a run's report, or None when the run has no fairness.json.

    Plots missing from the run folder are drawn from the JSON."""
    run_dir = Path(run_dir)
    path = run_dir / "fairness.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    from hongbao.harness.fairness import plots

    figures = [run_dir / name for name in plots.FILES.values() if (run_dir / name).exists()]
    if not figures:
        figures = plots.write_plots(doc, run_dir)
    return Section("Fairness by grab position", markdown(doc), figures=figures)
