"""``hongbao compare BASE NEW``: the significance-aware regression gate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.table import Table

from hongbao.harness import compare as cmp
from hongbao.harness.results import UnusableInput, load_run, short_name
from hongbao.loadtests.exitcodes import Exit
from hongbao.seeds import seed_file

DEFAULT_THRESHOLDS = seed_file("thresholds.toml")
#: --confirm for a paired NEW run folder: a wall-clock parallel case on a loaded 2-vCPU host can read
#: +18% to +22% across all five processes of one run with identical code, and not again in a re-run.
DEFAULT_CONFIRM = 2

HELP = "regression gate: compare two benchmark runs with significance tests"

_STYLE = {
    cmp.REGRESSION: "bold red",
    cmp.INCONCLUSIVE: "magenta",
    cmp.SUSPECTED: "magenta",
    cmp.SLOWER: "yellow",
    cmp.NOT_CONFIRMED: "yellow",
    cmp.NOT_GATED: "dim yellow",
    cmp.FASTER: "green",
    cmp.SAME: "dim",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compare NEW against BASE (pytest-benchmark JSON files or run folders). Each benchmark's raw "
        "samples are divided by the RNG control measured beside it in the same run (so a baseline "
        "from another machine still applies), then tested with Mann-Whitney U and a bootstrap CI of "
        "the median ratio. Cases NEW timed beside the --base-ref code are judged on those pairs: across "
        "processes when NEW was run with --processes K (each process one sample of where the machine code "
        "landed). Unpaired runs are judged against the spread between repeated runs that a run made with "
        "--processes K records (else the spread a thresholds rule assumes). Exit 0: nothing regressed; "
        "1: a significant regression beyond the allowed slowdown, or an algorithm claimed position-fair "
        "went from fair to unfair (fairness.json); 2: unusable input; 5: inconclusive (no regression shown, "
        "but for some gated benchmark the between-run spread cannot tell whether it slowed beyond the allowance)."
    )
    parser.add_argument("base", metavar="BASE", help="baseline: benchmark JSON or run folder (e.g. results/baseline)")
    parser.add_argument("new", metavar="NEW", help="candidate: benchmark JSON or run folder")
    parser.add_argument(
        "--max-regression",
        default=None,
        metavar="PCT",
        help="allowed slowdown: the whole 1-alpha CI of the median ratio must exceed it "
        "to fail (default 10%%, or [defaults] in --thresholds)",
    )
    parser.add_argument(
        "--min-effect",
        default=None,
        metavar="PCT",
        help="changes smaller than this are never called changes (default 5%%)",
    )
    parser.add_argument("--alpha", default=None, metavar="P", help="significance level (default 0.01)")
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="per-benchmark thresholds (default: the shipped seeds/thresholds.toml; "
        "parallel cases and Python baselines are reported but not gated)",
    )
    parser.add_argument(
        "--confirm",
        type=int,
        default=None,
        metavar="N",
        help="when NEW is a run folder and something regressed, re-run just those benchmarks N "
        "times (same profile, seed and --impl-module, written to NEW/confirm-K/) and keep "
        "only regressions every re-run reproduces; what CI on a shared 2-core machine needs. "
        f"Default: {DEFAULT_CONFIRM} when NEW is a run folder timed beside a --base-ref commit "
        "(its re-runs are paired too), else 0",
    )
    parser.add_argument(
        "--changes-only", action="store_true", help="list only benchmarks whose verdict is not 'no significant change'"
    )


def _defaults(args: argparse.Namespace, from_file: dict) -> cmp.Thresholds:
    t = cmp.base_thresholds(from_file)
    overrides = {}
    for flag, key in (("max_regression", "max_regression"), ("min_effect", "min_effect"), ("alpha", "alpha")):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = cmp.parse_fraction(value, "--" + flag.replace("_", "-"))
    if "alpha" in overrides and not 0 < overrides["alpha"] < 1:
        raise ValueError(f"--alpha must be between 0 and 1 (got {args.alpha})")
    return cmp.Thresholds(**{**t.__dict__, **overrides})


def _rerun(new, names: list[str], times: int, err: Console) -> list:
    """Re-run the named benchmarks ``times`` times like NEW was run; returns the loaded runs."""
    from hongbao.harness.runner import run_suites

    meta = new.doc.get("hongbao") or {}
    ids = [short_name(n) for n in names]
    runs = []
    spec = dict(
        profile=meta.get("profile", "quick"),
        filter_expr=" or ".join(ids),
        seed=int(meta.get("seed", 2026)),
        impl_module=meta.get("impl_module", "hongbao.kernels"),
        base_ref=meta.get("base_ref"),
        max_time_s=meta.get("max_time_s"),
    )
    processes = int(meta.get("processes") or 1)
    for k in range(1, times + 1):
        out = new.folder / f"confirm-{k}"
        out.mkdir(exist_ok=True)
        err.print(f"confirming {len(ids)} suspected regression(s), re-run {k}/{times} -> {out}", highlight=False)
        if processes > 1:  # as NEW was made: K fresh processes, merged
            from hongbao.harness import repeats

            try:
                paths = repeats.run_repeats(processes, out, err, **spec)
            except (LookupError, RuntimeError) as exc:
                raise UnusableInput(f"confirmation re-run {k}: {exc}") from None
            (out / "benchmark.json").write_text(json.dumps(repeats.merge([json.loads(p.read_text()) for p in paths])))
        else:
            outcome = run_suites(out_dir=out, console=err, **spec)
            if outcome.exit_code != 0:
                raise UnusableInput(f"confirmation re-run {k} failed (pytest exit {outcome.exit_code})")
        runs.append(load_run(out, f"re-run {k}"))
    return runs


def _load_warning(base, new, console: Console) -> None:
    """Contention inflates kernels and the RNG control differently: say so when the runs' loads differ."""

    def per_cpu(run) -> float | None:
        meta = run.doc.get("hongbao") or {}
        load, cpus = meta.get("load_average_1m_at_end"), meta.get("cpu_count")
        return load / cpus if load is not None and cpus else None

    b, n = per_cpu(base), per_cpu(new)
    if b is not None and n is not None and abs(b - n) > 1.0:
        console.print(
            f"[yellow]Load differs: {b:.1f} (BASE) vs {n:.1f} (NEW) runnable tasks per CPU; under "
            "contention Numba kernels slow down more than the RNG control, so expect shifts of "
            "10-40% that are not code changes.[/yellow]",
            highlight=False,
        )


def deciding_commands(base, new, rows: list[cmp.Row], thresholds: Path | None) -> list[str]:
    """The two commands that decide single-process suspects: the same bench on just those cases in
    GATE_PROCESSES fresh processes (each one sample of the layout), then this comparison again."""
    from hongbao.harness.repeats import GATE_PROCESSES

    meta = new.doc.get("hongbao") or {}
    where = new.folder or new.source.parent
    out = where.parent / f"{where.name}-processes"
    flt = " or ".join(short_name(r.name) for r in rows)
    assert rows[0].base_commit is not None  # suspects are judged against a base commit timed beside them
    bench = [
        "hongbao bench",
        f"--profile {meta.get('profile', 'quick')}",
        f"--base-ref {rows[0].base_commit[:12]}",
        f"--processes {GATE_PROCESSES}",
        f'--filter "{flt}"',
        f"--out {out}",
    ]
    if int(meta.get("seed", 2026)) != 2026:
        bench.append(f"--seed {meta['seed']}")
    if meta.get("impl_module") not in (None, "hongbao.kernels", "kernels"):
        bench.append(f"--impl-module {meta['impl_module']}")
    again = ["hongbao compare", str(base.folder or base.source), str(out)]
    if thresholds is not None:
        again.append(f"--thresholds {thresholds}")
    return [" ".join(bench), " ".join(again + ["--confirm 2"])]


def _p(value) -> str:
    return "n/a" if value is None else f"{value:.2g}"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def table(result: cmp.Comparison, changes_only: bool) -> Table:
    same_run = any(r.base_commit for r in result.rows)
    t = Table(title="hongbao compare", show_lines=False)
    columns: list[tuple[str, JustifyMethod]] = [
        ("benchmark", "left"),
        ("base", "right"),
        ("new", "right"),
        ("change", "right"),
        ("CI of ratio", "right"),
        ("p-value", "right"),
        ("verdict", "left"),
        ("judged on", "left"),
    ]
    if same_run:
        columns += [("vs BASE run", "right")]
    for col, justify in columns:
        t.add_column(col, justify=justify)
    for row in result.rows:
        if changes_only and row.verdict == cmp.SAME:
            continue
        d = row.diff
        cells = [
            short_name(row.name),
            _fmt(d.base_median),
            _fmt(d.new_median),
            f"{d.change:+.1%}",
            f"{d.ratio_ci[0]:.3f}-{d.ratio_ci[1]:.3f}",
            f"{d.p_value:.2g}",
            f"[{_STYLE[row.verdict]}]{row.verdict}[/]",
        ]
        if row.base_commit:
            cells.append(f"{row.base_commit[:12]} beside it, {row.basis}")
        else:
            cells.append(f"BASE run{', ' + row.basis if row.basis else ''}")
        if same_run:
            cells.append(f"[dim]{row.drift.change:+.1%}[/]" if row.base_commit and row.drift else "")
        t.add_row(*cells)
    return t


def explain(row: cmp.Row) -> str:
    d, t = row.diff, row.thresholds
    again = (
        f" Reproduced by {len(row.confirmations)} re-run(s): "
        + ", ".join(f"{c.change:+.1%}" for c in row.confirmations)
        + "."
        if row.confirmations
        else ""
    )
    if row.judged == cmp.PROCESSES:
        assert row.base_commit is not None  # judged across processes against a base commit timed beside it
        return (
            f"{short_name(row.name)}: {d.change:+.1%} slower than the code at {row.base_commit[:12]} timed beside it "
            f"in each of {row.basis} (geometric mean of the per-process median ratios new / base); the "
            f"{1 - t.alpha:.0%} t interval is {d.ratio_ci[0]:.3f}-{d.ratio_ci[1]:.3f}, wholly above the allowed "
            f"1 + {t.max_regression:.0%}; t-test over processes p = {d.p_value:.2g} < alpha {t.alpha:g}." + again
        )
    if row.basis.startswith("spread"):
        verb = "wholly above" if row.verdict != cmp.INCONCLUSIVE else "reaching past"
        return (
            f"{short_name(row.name)}: {d.change:+.1%} slower ({_fmt(d.base_median)} -> {_fmt(d.new_median)} "
            f"{row.unit}, each run's median) against the between-run {row.basis}; the {1 - t.alpha:.2%} interval of "
            f"new/base is {d.ratio_ci[0]:.3f}-{d.ratio_ci[1]:.3f}, {verb} the allowed 1 + {t.max_regression:.0%}; "
            f"p = {d.p_value:.2g} < alpha {t.alpha:.2g} (Bonferroni over the gated cross-run benchmarks)." + again
        )
    if row.base_commit:
        return (
            f"{short_name(row.name)}: {d.change:+.1%} slower than the kernels at {row.base_commit[:12]} timed beside "
            f"it in the same run (median of the per-round ratios new / base; base {_fmt(d.base_median)} s, "
            f"new {_fmt(d.new_median)} s per round); the {1 - t.alpha:.0%} bootstrap CI of that median is "
            f"{d.ratio_ci[0]:.3f}-{d.ratio_ci[1]:.3f}, wholly above the allowed 1 + {t.max_regression:.0%}; "
            f"Wilcoxon signed-rank p = {d.p_value:.2g} < alpha {t.alpha:g}." + again
        )
    return (
        f"{short_name(row.name)}: {d.change:+.1%} slower ({_fmt(d.base_median)} -> {_fmt(d.new_median)} {row.unit}, "
        f"median of raw samples); the {1 - t.alpha:.0%} bootstrap CI of new/base is "
        f"{d.ratio_ci[0]:.3f}-{d.ratio_ci[1]:.3f}, wholly above the allowed 1 + {t.max_regression:.0%}; "
        f"Mann-Whitney U p = {d.p_value:.2g} < alpha {t.alpha:g}." + again
    )


def run(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True) if Console().is_terminal else Console(width=200, soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        path = args.thresholds or (DEFAULT_THRESHOLDS if DEFAULT_THRESHOLDS.is_file() else None)
        file_defaults, rules = cmp.load_thresholds(path) if path else ({}, [])
        defaults = _defaults(args, file_defaults)
        base = load_run(args.base, "BASE")
        new = load_run(args.new, "NEW")
        result = cmp.compare_runs(base, new, defaults, rules)
        if args.confirm is None:
            paired = new.folder is not None and any(r.base_commit for r in result.rows)
            args.confirm = DEFAULT_CONFIRM if paired else 0
        if args.confirm < 0:
            raise ValueError(f"--confirm must be >= 0 (got {args.confirm})")
        if args.confirm and result.regressions:
            if new.folder is None:
                raise ValueError("--confirm needs NEW to be a run folder (re-runs are written inside it)")
            reruns = _rerun(new, [r.name for r in result.regressions], args.confirm, err)
            cmp.confirm(result, base, reruns, rules, defaults)
    except (UnusableInput, ValueError) as exc:
        err.print(f"[red]unusable input:[/red] {exc}", highlight=False)
        return Exit.UNUSABLE
    console.print(table(result, args.changes_only))
    console.print(
        f"BASE {base.source}  NEW {new.source}  thresholds: {path or 'built-in'} "
        f"(max-regression {defaults.max_regression:.0%}, min-effect {defaults.min_effect:.0%}, "
        f"alpha {defaults.alpha:g})",
        highlight=False,
    )
    _load_warning(base, new, console)
    raw = [short_name(r.name) for r in result.rows if r.unit == "s" and not r.base_commit]
    console.print(
        "Figures: median RNG fills per share (time per share / numpy's fill time per float64, paired "
        "round by round in the same run; lower is faster)"
        + (f"; in seconds and never gated (no same-run control): {', '.join(raw)}" if raw else "")
        + ".",
        highlight=False,
    )
    commits = sorted({r.base_commit[:12] for r in result.rows if r.base_commit})
    if commits:
        console.print(
            f"Judged beside the code at {', '.join(commits)}: NEW timed it with each such benchmark, "
            "alternately just before and just after the new code in every round; base and new are median "
            "seconds per round; change is, over K processes, the geometric mean of each process's median "
            "per-round ratio (t-test over processes), or in one process the median per-round ratio "
            "(Wilcoxon signed-rank p). 'vs BASE run' is the figure against BASE in RNG fills per share: "
            "shown, not judged (a shared host's spells move it from -25% to +48% with the code unchanged).",
            highlight=False,
        )
    if result.only_base:
        console.print(
            f"[yellow]{len(result.only_base)} benchmark(s) only in BASE (not compared):[/yellow] "
            + ", ".join(short_name(n) for n in result.only_base[:8]),
            highlight=False,
        )
    if result.only_new:
        console.print(f"[yellow]{len(result.only_new)} benchmark(s) only in NEW (no baseline yet)[/yellow]")
    for f in result.fairness:
        mark = "[bold red]REGRESSION[/]" if f.regression else "ok"
        console.print(
            f"fairness {f.algorithm}: position_fair {f.base_fair} -> {f.new_fair} "
            f"(claimed {f.claimed}, min p {_p(f.min_p_value)}) {mark}",
            highlight=False,
        )
    counts = {v: sum(r.verdict == v for r in result.rows) for v in _STYLE}
    console.print(", ".join(f"{n} {v}" for v, n in counts.items() if n), highlight=False)
    if not result.regressed:
        undecided = [r for r in result.inconclusive if r.thresholds.gate]
        if undecided:
            console.print(
                f"[magenta]Inconclusive: no regression shown, but for {len(undecided)} benchmark(s) the data "
                "cannot decide (record the between-run spread with `hongbao bench --processes K`, or pair "
                "the runs with --base-ref):[/magenta]",
                highlight=False,
            )
            for row in undecided:
                console.print(
                    "  "
                    + (
                        explain(row)
                        if row.basis.startswith("spread")
                        else f"{short_name(row.name)}: {row.diff.change:+.1%}, {row.basis}"
                    ),
                    highlight=False,
                )
            suspects = [r for r in undecided if r.verdict == cmp.SUSPECTED]
            if suspects:
                console.print(
                    f"[magenta]{len(suspects)} slowdown(s) seen in a single process are suspected, not "
                    "shown: one process samples one memory layout per side, and its rounds cannot see "
                    "that layout's bias (identical code has read +3% to +12% this way). Decide them "
                    "across fresh processes:[/magenta]",
                    highlight=False,
                )
                for command in deciding_commands(base, new, suspects, path):
                    console.print(f"  {command}", highlight=False)
            return Exit.INCONCLUSIVE
        console.print("[green]No significant regression.[/green]")
        return Exit.OK
    console.print(f"[bold red]{len(result.regressions) + len(result.fairness_regressions)} regression(s):[/bold red]")
    for row in result.regressions:
        console.print("  " + explain(row), highlight=False)
    for f in result.fairness_regressions:
        console.print(
            f"  fairness: {f.algorithm} is registered position-fair and was fair in BASE, but NEW's "
            f"scorecard rejects position fairness (min p = {_p(f.min_p_value)}).",
            highlight=False,
        )
    return Exit.REGRESSION
