"""``hongbao bisect GOOD BAD --filter CASE``: the first commit between GOOD and BAD where CASE got slower.

Each step times one commit's kernels beside GOOD's, as the gate times the working kernels beside
``--base-ref``: alternately round by round in K fresh processes (harness.repeats, harness.baseref),
judged across the processes (harness.compare). A commit is *slower* when the gate would fail it
against GOOD (its whole interval above 1 + the allowance), *not slower* when its whole interval lies
below BAD's, and otherwise undecided: the bisection stops there rather than guess. BAD is judged
first; when the gate would pass it against GOOD there is nothing to find. Only the commits that change
kernels/ are candidates: the others run the same kernels as the commit before them (BAD is judged
through the last commit that changed them). The result also says when the range holds more than one
step up: the first slower commit explains only part of BAD's slowdown, or a commit before it is
already significantly (if not decidably) slower than GOOD.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hongbao.harness import bench, repeats
from hongbao.harness import compare as cmp
from hongbao.harness.results import UnusableInput, load_run, short_name
from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit
from hongbao.seeds import seed_file

HELP = "find the commit between GOOD and BAD where a benchmark case got slower (paired, across processes)"
SLOWER, NOT_SLOWER, UNDECIDED = "slower", "not slower", "undecided"
FOUND, NONE, CANNOT_DECIDE = "found", "no slowdown", "cannot decide"


@dataclass
class Case:
    """One benchmark's judgement at one commit against GOOD's kernels."""

    name: str
    change: float
    ratio_ci: tuple[float, float]
    p_value: float
    verdict: str


@dataclass
class Step:
    commit: str
    subject: str
    index: int  # position in the range, 1 = the commit after GOOD
    cases: list[Case]
    call: str = ""  # SLOWER, NOT_SLOWER or UNDECIDED
    seconds: float = 0.0
    left: int = 0  # candidate commits still in the range after this step

    @property
    def ratio_ci(self) -> tuple[float, float]:
        """The interval of the case that moved most (the one the call rests on)."""
        worst = max(self.cases, key=lambda c: c.change)
        return worst.ratio_ci


@dataclass
class Bisection:
    good: str
    bad: str
    filter: str
    processes: int
    commits: list[dict]
    steps: list[Step] = field(default_factory=list)
    result: str = ""
    first_slower: dict | None = None
    more_than_one_step: list[str] = field(default_factory=list)
    seconds: float = 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Bisect the first-parent history from GOOD (exclusive) to BAD (inclusive) for the commit where the "
        "benchmark cases FILTER selects got slower (only commits that change kernels/ are candidates). "
        "Each step times that commit's kernels beside GOOD's, "
        "alternately round by round, in K fresh processes, and judges them as `hongbao compare` judges a "
        "--base-ref run: slower when the whole interval of the geometric-mean ratio lies above 1 + the "
        "allowance (seeds/thresholds.toml), not slower when it lies below BAD's interval, else undecided (the "
        "bisection stops; re-run with more --processes). Writes OUT/bisect.json and OUT/steps/<commit>/. "
        "Exit 1: a commit found; 0: BAD is not slower than GOOD; 5: the data cannot decide; 2: unusable input."
    )
    parser.add_argument("good", metavar="GOOD", help="a commit where the case was fast (sha, tag, branch)")
    parser.add_argument("bad", metavar="BAD", help="a later commit where it is slow; GOOD must be its ancestor")
    parser.add_argument(
        "--filter",
        required=True,
        metavar="EXPR",
        help='benchmark ids, as `hongbao bench --filter`; keep it small, e.g. "double_mean-serial-c10-"',
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=repeats.GATE_PROCESSES,
        metavar="K",
        help=f"fresh processes per step, as the gate's --processes (default {repeats.GATE_PROCESSES})",
    )
    parser.add_argument("--profile", choices=sorted(bench.PROFILES), default="quick")
    parser.add_argument("--max-time", type=float, default=None, metavar="S", help="seconds of rounds per case")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="the allowance and alpha (default: the shipped seeds/thresholds.toml)",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="default results/<UTC time>/")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise UnusableInput(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


def commit_range(good: str, bad: str) -> tuple[int, list[dict]]:
    """(how many commits lie after GOOD up to BAD along BAD's first parents, [{commit, subject}] of
    those that change kernels/, oldest first). Only those can change what a step times: the rest
    run the same kernels as the commit before them."""
    from hongbao.harness import baseref

    good_sha, bad_sha = baseref.resolve(good), baseref.resolve(bad)
    if subprocess.run(["git", "merge-base", "--is-ancestor", good_sha, bad_sha], timeout=60).returncode != 0:
        raise UnusableInput(f"GOOD {good} is not an ancestor of BAD {bad}")
    span = f"{good_sha}..{bad_sha}"
    total = int(_git("rev-list", "--first-parent", "--count", span))
    lines = _git("log", "--first-parent", "--reverse", "--format=%H %s", span, "--", baseref.FOLDER).splitlines()
    return total, [{"commit": sha, "subject": subject} for sha, _, subject in (line.partition(" ") for line in lines)]


def call(cases: list[Case], bad: Step | None, allowance: float) -> str:
    """Slower, not slower or undecided, from a step's cases (see the module doc). BAD itself (``bad``
    None) is slower exactly when the gate would fail it against GOOD, and not slower otherwise."""
    if any(c.verdict == cmp.REGRESSION for c in cases):
        return SLOWER
    if bad is None:
        return NOT_SLOWER
    ceiling = max(1.0 + allowance, min(c.ratio_ci[0] for c in bad.cases))
    return NOT_SLOWER if all(c.ratio_ci[1] < ceiling for c in cases) else UNDECIDED


def more_than_one_step(first: Step, bad: Step, before: list[Step]) -> list[str]:
    """Why the range seems to hold more than one step up (empty when it does not)."""
    notes = []
    if first is not bad and first.ratio_ci[1] < bad.ratio_ci[0]:
        notes.append(
            f"{first.commit[:12]} explains only part of BAD's slowdown ({_range(first)} against "
            f"{_range(bad)}): bisect {first.commit[:12]} {bad.commit[:12]} for the rest"
        )
    for step in before:
        if any(c.verdict == cmp.SLOWER for c in step.cases):
            notes.append(f"{step.commit[:12]}, before it, is already significantly slower than GOOD ({_range(step)})")
    return notes


def _range(step: Step) -> str:
    lo, hi = step.ratio_ci
    return f"{lo - 1:+.1%}..{hi - 1:+.1%}"


class Timer:
    """Times commits' kernels beside GOOD's in K fresh processes each, with one progress bar."""

    def __init__(self, args: argparse.Namespace, good: str, out: Path, progress: Progress) -> None:
        from hongbao.harness import baseref

        self.args, self.good, self.out, self.progress = args, good, out, progress
        path = args.thresholds or seed_file("thresholds.toml")
        file_defaults, self.rules = cmp.load_thresholds(path)
        self.defaults = cmp.base_thresholds(file_defaults)
        self.task = progress.add_task("bisect", total=None)
        baseref.extract(good)

    def judge(self, commit: dict, index: int, bad: Step | None) -> Step:
        from hongbao.harness import baseref

        sha, t0 = commit["commit"], time.perf_counter()
        where = self.out / "steps" / sha[:12]
        self.progress.update(self.task, description=f"{sha[:12]}: compiling its kernels and GOOD's")
        baseref.extract(sha)
        baseref.prime_caches([self.good, sha])
        self.progress.update(self.task, description=f"{sha[:12]}: timing beside GOOD")
        paths = repeats.run_repeats(
            self.args.processes,
            where,
            None,
            on_done=lambda k: self.progress.advance(self.task),
            profile=self.args.profile,
            filter_expr=self.args.filter,
            seed=self.args.seed,
            impl_module="hongbao.kernels",
            max_time_s=self.args.max_time,
            base_ref=self.good,
            impl_ref=sha,
        )
        merged = repeats.merge([json.loads(p.read_text()) for p in paths])
        merged["hongbao"].update(processes=self.args.processes, commit=sha, subject=commit["subject"])
        (where / "benchmark.json").write_text(json.dumps(merged, indent=1))
        run = load_run(where, f"step {sha[:12]}")
        rows = [r for r in cmp.compare_runs(run, run, self.defaults, self.rules).rows if r.judged == cmp.PROCESSES]
        if not rows:
            raise UnusableInput(f"--filter {self.args.filter!r}: no case timed beside GOOD at {sha[:12]}")
        cases = [Case(short_name(r.name), r.diff.change, r.diff.ratio_ci, r.diff.p_value, r.verdict) for r in rows]
        step = Step(sha, commit["subject"], index, cases, seconds=time.perf_counter() - t0)
        step.call = call(cases, bad, self.defaults.max_regression)
        return step


def bisect(commits: list[dict], judge: Callable[[dict, int, Step | None], Step]) -> tuple[str, int | None, list[Step]]:
    """(result, index of the first slower commit or None, steps) by bisecting ``commits`` (oldest
    first, the last one BAD) with ``judge(commit, index, bad_step) -> Step``."""
    steps: list[Step] = []
    bad = judge(commits[-1], len(commits), None)
    steps.append(bad)
    if bad.call != SLOWER:
        return NONE, None, steps
    lo, hi = 0, len(commits)  # commits[lo - 1] is not slower (0: GOOD itself), commits[hi - 1] is slower
    bad.left = hi - lo - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        step = judge(commits[mid - 1], mid, bad)
        steps.append(step)
        if step.call == UNDECIDED:
            step.left = hi - lo - 1
            return CANNOT_DECIDE, None, steps
        if step.call == SLOWER:
            hi = mid
        else:
            lo = mid
        step.left = hi - lo - 1
    return FOUND, hi, steps


def _table(steps: list[Step]) -> Table:
    t = Table(title="hongbao bisect: each commit's kernels beside GOOD's")
    for col in ("step", "commit", "#", "case", "change", "interval", "p", "verdict", "call", "left", "s"):
        t.add_column(col)
    for i, step in enumerate(steps, 1):
        for j, c in enumerate(step.cases):
            head = [str(i), step.commit[:12], str(step.index)] if j == 0 else ["", "", ""]
            tail = [step.call, str(step.left), f"{step.seconds:.0f}"] if j == 0 else ["", "", ""]
            t.add_row(
                *head,
                c.name,
                f"{c.change:+.1%}",
                f"{c.ratio_ci[0]:.3f}-{c.ratio_ci[1]:.3f}",
                f"{c.p_value:.2g}",
                c.verdict,
                *tail,
            )
    return t


def run(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True) if Console().is_terminal else Console(width=200, soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    if args.processes < 2:
        err.print(f"[red]--processes must be >= 2: one process samples one memory layout (got {args.processes})[/red]")
        return Exit.UNUSABLE
    t0 = time.perf_counter()
    try:
        from hongbao.harness import baseref

        good = baseref.resolve(args.good)
        total, commits = commit_range(args.good, args.bad)
        out = args.out or default_run_dir()
        out.mkdir(parents=True, exist_ok=True)
        if not commits:
            console.print(
                f"[green]No slowdown: none of the {total} commit(s) after GOOD {good[:12]} up to BAD "
                f"{args.bad} changes kernels/, so they all run GOOD's kernels.[/green]",
                highlight=False,
            )
            record = Bisection(good, baseref.resolve(args.bad), args.filter, args.processes, [], [], NONE)
            (out / "bisect.json").write_text(json.dumps(asdict(record), indent=2))
            return Exit.OK
        err.print(
            f"bisecting {len(commits)} of the {total} commit(s) after {good[:12]} up to {args.bad} (those that "
            f"change kernels/), {args.processes} processes per step -> {out}",
            highlight=False,
        )
        with Progress(
            TextColumn("[bold]{task.description:<48}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            timer = Timer(args, good, out, progress)
            # BAD, then about log2(n) commits: the bar counts their processes
            progress.update(timer.task, total=args.processes * (1 + math.ceil(math.log2(max(1, len(commits))))))
            result, first, steps = bisect(commits, timer.judge)
    except (UnusableInput, RuntimeError, LookupError) as exc:
        err.print(f"[red]unusable input:[/red] {exc}", highlight=False)
        return Exit.UNUSABLE
    record = Bisection(good, baseref.resolve(args.bad), args.filter, args.processes, commits, steps, result)
    record.seconds = time.perf_counter() - t0
    console.print(_table(steps))
    if result == FOUND:
        assert first is not None  # bisect() names the first slower commit whenever it FOUND one
        found = commits[first - 1]
        first_step = next(s for s in steps if s.commit == found["commit"])
        record.first_slower = {**found, "index": first, "ratio_ci": list(first_step.ratio_ci)}
        before = [s for s in steps if s.index < first and s.call == NOT_SLOWER]
        record.more_than_one_step = more_than_one_step(first_step, steps[0], before)
        console.print(
            f"[bold red]First slower commit:[/bold red] {found['commit']} {found['subject']}", highlight=False
        )
        console.print(
            f"  {_range(first_step)} against GOOD {good[:12]} ({args.processes} processes); "
            f"BAD {_range(steps[0])}; {len(steps)} step(s) over {len(commits)} commit(s) in "
            f"{record.seconds:.0f} s",
            highlight=False,
        )
        for note in record.more_than_one_step:
            console.print(f"[yellow]More than one step up: {note}[/yellow]", highlight=False)
        code = Exit.REGRESSION
    elif result == NONE:
        console.print(
            f"[green]No slowdown: BAD's kernels (as of {commits[-1]['commit'][:12]}) are not slower than "
            f"GOOD {good[:12]}'s ({_range(steps[0])}); nothing to bisect.[/green]",
            highlight=False,
        )
        code = Exit.OK
    else:
        last = steps[-1]
        console.print(
            f"[magenta]The data cannot decide at {last.commit[:12]} ({_range(last)}: neither wholly "
            f"above the allowance nor below BAD's interval); {last.left} candidate commit(s) left. Re-run "
            f"with more processes, e.g. --processes {2 * args.processes}.[/magenta]",
            highlight=False,
        )
        code = Exit.INCONCLUSIVE
    doc = asdict(record)
    (out / "bisect.json").write_text(json.dumps(doc, indent=2))
    print(out / "bisect.json")
    return code
