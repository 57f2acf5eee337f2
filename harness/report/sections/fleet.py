"""Report section for a fleet storm (storm.json's ``fleet``): the master, each worker host with its
grabs, and every worker lost while the storm ran (the storm and its audit went on without it)."""

from __future__ import annotations

import json
from pathlib import Path

from hongbao.harness.report.section import Section

TITLE = "Fleet (Locust master and workers)"


def markdown(fleet: dict) -> str:
    lines = [
        f"Master {fleet['master']} (hongbao-bench {fleet.get('kit_version')}): "
        f"{fleet['connected_workers']} of {fleet['expected_workers']} worker process(es) connected.",
        "",
        "| worker host | addresses | processes | grab requests | new grabs | lost processes |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for h in fleet["hosts"]:
        lines.append(
            f"| {h['host']} | {', '.join(h['addresses'])} | {h['processes']} | {h['grab_requests']:,} | "
            f"{h['grabs']:,} | {h['lost_processes']} |"
        )
    if fleet["lost_workers"]:
        lines += [
            "",
            "Workers lost while the storm ran (their users went to the others; grabs they made "
            "after their last stats report are in the ledger and the audit, not in the counts above):",
            "",
        ]
        lines += [
            f"- {w['host']} ({w['address']}), pid {w['pid']}: {w['lost']} (last report at "
            f"{w['last_report_s']} s into the storm, noticed at {w['lost_at_s']} s)"
            + (
                f"; about {w['open_model_arrivals_not_sent']:,} arrivals of its share of the open model's "
                "schedule were never sent (not counted as dropped)"
                if "open_model_arrivals_not_sent" in w
                else ""
            )
            for w in fleet["lost_workers"]
        ]
    return "\n".join(lines) + "\n"


def render(run_dir: Path) -> Section | None:
    """The fleet section, or None when the run has no fleet storm."""
    path = Path(run_dir) / "storm.json"
    if not path.is_file():
        return None
    fleet = json.loads(path.read_text()).get("fleet")
    return Section(TITLE, markdown(fleet)) if fleet else None
