"""Report section: each gated case's ratio to its base commit's kernels, commit by commit.

Every saved run that timed a base commit's kernels beside its own (``hongbao bench --base-ref``,
the steps of ``hongbao bisect``) gives, per case, the ratio and interval ``hongbao compare`` judges
on. The runs are the report's own folder, the runs beside it (results/*/) and a bisection's steps
(RUN_DIR/steps/*/); their commits are put in history order with git (ancestor count, where the
repository holding the report's folder knows them). The commit a bisection named (bisect.json) is marked.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from hongbao.harness import compare as cmp
from hongbao.harness.report import plots
from hongbao.harness.report.section import Section
from hongbao.harness.results import UnusableInput, load_run, short_name
from hongbao.seeds import seed_file

TITLE = "History: time against the base commit's kernels, by commit"


def run_folders(run_dir: Path) -> list[Path]:
    """The report's folder, its bisection steps and the saved runs beside it, each once."""
    found = [run_dir, *sorted(run_dir.glob("steps/*")), *sorted(run_dir.parent.glob("*"))]
    out: list[Path] = []
    for folder in found:
        if (folder / "benchmark.json").is_file() and folder.resolve() not in {f.resolve() for f in out}:
            out.append(folder)
    return out


def commit_of(doc: dict) -> str | None:
    """The commit whose kernels a run timed: a bisection step's, else the checkout's."""
    meta = doc.get("hongbao") or {}
    return meta.get("commit") or (doc.get("commit_info") or {}).get("id")


def history_order(commits: list[str], where: Path) -> list[str]:
    """Commits oldest first: by how many ancestors the git repository holding ``where`` counts
    (commits it does not know go last)."""

    def depth(sha: str) -> int:
        done = subprocess.run(
            ["git", "-C", str(where), "rev-list", "--count", sha], capture_output=True, text=True, timeout=30
        )
        return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else 1 << 30

    return sorted(commits, key=depth)


def marked_commit(run_dir: Path) -> str | None:
    """The first slower commit of a bisection written in the report's folder or beside it."""
    for path in [run_dir / "bisect.json", *sorted(run_dir.parent.glob("*/bisect.json"))]:
        try:
            found = json.loads(path.read_text()).get("first_slower")
        except (OSError, ValueError):
            continue
        if found:
            return found["commit"]
    return None


def points(folders: list[Path]) -> tuple[dict[str, dict[str, tuple[float, float, float]]], list[str]]:
    """{case: {commit: (ratio, low, high)}} from every run that timed a base commit beside itself."""
    file_defaults, rules = cmp.load_thresholds(seed_file("thresholds.toml"))
    defaults = cmp.base_thresholds(file_defaults)
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    problems = []
    for folder in folders:
        try:
            run = load_run(folder)
        except UnusableInput as exc:
            problems.append(str(exc))
            continue
        commit = commit_of(run.doc)
        paired = {name: b for name, b in run.benchmarks.items() if b.base_pairs() is not None}
        if commit is None or not paired:
            continue
        run = replace(run, benchmarks=paired)
        for row in cmp.compare_runs(run, run, defaults, rules).rows:
            if row.base_commit and row.thresholds.gate:
                out.setdefault(short_name(row.name), {})[commit] = (1.0 + row.diff.change, *row.diff.ratio_ci)
    return out, problems


def render(run_dir: Path) -> Section | None:
    """The section, or None when fewer than two commits have paired figures."""
    run_dir = Path(run_dir)
    by_case, problems = points(run_folders(run_dir))
    marked = marked_commit(run_dir)
    known = {c for per in by_case.values() for c in per} | ({marked} if marked else set())
    commits = history_order(sorted(known), run_dir)
    if len(commits) < 2:
        return None
    short = [c[:12] for c in commits]
    series = {
        case: [(commits.index(c), *v) for c, v in sorted(per.items(), key=lambda kv: commits.index(kv[0]))]
        for case, per in by_case.items()
        if len(per) >= 2
    }
    figure = plots.ratio_history(series, short, run_dir / "history_by_commit.png", marked[:12] if marked else None)
    lines = [
        f"{len(series)} gated case(s) timed beside a base commit's kernels at {len(commits)} commits (oldest "
        "first): each point is the ratio `hongbao compare` judges (time / the base commit's, geometric mean "
        "over processes) with its interval."
        + (f" Marked: **{marked[:12]}**, the first slower commit `hongbao bisect` named." if marked else ""),
        "",
        "| case | " + " | ".join(short) + " |",
        "|---|" + "---:|" * len(short),
    ]
    for case in sorted(series):
        cells = [f"{v[0]:.3f} ({v[1]:.2f}-{v[2]:.2f})" if (v := by_case[case].get(c)) else "" for c in commits]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines += [f"> {p}" for p in problems]
    return Section(TITLE, "\n".join(lines), figures=[figure] if figure else [])
