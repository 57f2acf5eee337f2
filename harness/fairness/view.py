"""Terminal presentation of a fairness document: progress bars and rich tables."""

from __future__ import annotations

import functools

from rich.console import Console, JustifyMethod
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hongbao.harness.fairness.calibration import calibrate
from hongbao.kernels import ALGORITHMS


def make_console() -> Console:
    """A console at least 120 columns wide when writing to a file or CI log."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def run_calibration(prog: Progress, names: list[str], args, common: dict) -> dict:
    """False-alarm rate over ``args.repeat_seeds`` seeds for each algorithm that claims fairness."""
    out = {}
    for name in names:
        if not ALGORITHMS[name].claims_position_fair(common["max_cents"]):
            continue
        task = prog.add_task(f"{name}: {args.repeat_seeds} seeds", total=args.repeat_seeds)
        out[name] = calibrate(
            name,
            seeds=args.repeat_seeds,
            first_seed=common["seed"],
            total=common["total"],
            count=common["count"],
            envelopes=args.calibration_envelopes,
            alpha=common["alpha"],
            min_cents=common["min_cents"],
            max_cents=common["max_cents"],
            advance=functools.partial(prog.advance, task),
        )
    return out


def fmt_num(v: float) -> str:
    """A figure for tables: whole above 100, three significant digits below."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def fmt_p(p) -> str:
    """A p-value for tables; 0 underflowed below double precision."""
    if p is None:
        return "-"
    return "< 1e-300" if p == 0 else f"{p:.2g}"


def short_name(name: str) -> str:
    """``callable:pkg.mod:func`` -> ``func()`` for tables; JSON keeps the full name."""
    return name.rsplit(":", 1)[-1] + "()" if name.startswith("callable:") else name


def verdict_text(entry: dict) -> str:
    if entry.get("broken"):
        return "[bold red]BROKEN[/] (not scored)"
    if not entry.get("testable", True):
        return "fair (no variation)"
    fair = "[green]fair[/]" if entry["position_fair"] else "[red]NOT fair[/]"
    ok = entry["position_fair"] == entry["claimed_position_fair"]
    return fair + ("" if ok else " [bold red](claim failed)[/]")


def scorecard_table(doc: dict) -> Table:
    k = 3
    title = (
        f"Fairness scorecard: {doc['envelopes']:,} envelopes of {doc['total_cents']:,} cents for {doc['count']}, "
        f"seed {doc['seed']}"
    )
    caption = (
        f"verdict: position-fair or NOT at alpha = {doc['alpha']} (Bonferroni over {k} tests: every "
        f"p >= {doc['alpha'] / k:.2g}); claim: kernels.ALGORITHMS position_fair"
    )
    t = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("algorithm", "left"),
        ("claim", "center"),
        ("mean spread ¢", "right"),
        ("std ¢ 1st→last", "right"),
        ("P(best) range", "right"),
        ("Gini", "right"),
        ("min p", "right"),
        ("verdict", "left"),
    )
    for col, just in columns:
        t.add_column(col, justify=just, no_wrap=col not in ("verdict", "algorithm"), max_width=24)
    for name, e in doc["algorithms"].items():
        claim = "fair" if e["claimed_position_fair"] else "unfair"
        if e.get("broken"):
            t.add_row(short_name(name), claim, "-", "-", "-", "-", "-", verdict_text(e))
            continue
        std = e["positions"]["std_cents"]
        best = e["best_luck_prob"]
        t.add_row(
            short_name(name),
            claim,
            f"{e['mean_spread_cents']:.1f}",
            f"{fmt_num(std[0])}→{fmt_num(std[-1])}",
            f"{min(best):.3f}–{max(best):.3f}",
            f"{e['gini']['mean']:.3f}",
            fmt_p(e["min_p_value"]),
            verdict_text(e),
        )
    return t


def position_table(doc: dict) -> Table | None:
    """Std of the share by position for every scored algorithm (double_mean's rising variance)."""
    scored = {n: e for n, e in doc["algorithms"].items() if not e.get("broken")}
    if not scored or doc["count"] > 30:
        return None
    t = Table(title="Std of share by grab position (cents)", title_justify="left")
    t.add_column("position", justify="right")
    for name in scored:
        t.add_column(short_name(name), justify="right")
    for p in range(doc["count"]):
        t.add_row(str(p + 1), *(fmt_num(e["positions"]["std_cents"][p]) for e in scored.values()))
    return t


def calibration_table(calib: dict) -> Table:
    t = Table(
        title="False-alarm rate over repeated seeds (fair algorithms)",
        title_justify="left",
        caption="binomial p: one-sided test of rate > alpha; KS: each test's p-values against uniform(0, 1)",
        caption_justify="left",
    )
    short = {"position_bins": "bins", "best_luck": "luck", "spread": "spread"}
    names = [short.get(n, n) for n in next(iter(calib.values()))["ks_uniform_p_values"]] if calib else []
    for col in (
        "algorithm",
        "seeds × envelopes",
        "false alarms",
        "rate",
        "binomial p",
        "KS p " + "/".join(names),
        "verdict",
    ):
        t.add_column(col, no_wrap=col != "verdict")
    for name, c in calib.items():
        ks = " / ".join(f"{v:.2g}" for v in c["ks_uniform_p_values"].values())
        ok = "[green]consistent with alpha[/]" if c["consistent_with_alpha"] else "[red]too many false alarms[/]"
        t.add_row(
            name,
            f"{c['seeds']} x {c['envelopes']:,}",
            str(c["false_alarms"]),
            f"{c['false_alarm_rate']:.3f}",
            fmt_p(c["binomial_p_value"]),
            ks,
            ok,
        )
    return t


def print_scorecard(console: Console, doc: dict) -> None:
    console.print(scorecard_table(doc))
    for name, e in doc["algorithms"].items():
        if e.get("broken"):
            f = e["exactness"]["first_failure"]
            console.print(
                f"[bold red]{name} broke exactness[/] at envelope {f['envelope']} "
                f"(total {f['total_cents']} cents, count {f['count']}): {f['problem']}"
            )
            console.print(f"  returned: {f['returned']}", markup=False, highlight=False)
    positions = position_table(doc)
    if positions is not None:
        console.print(positions)
    if doc.get("calibration"):
        console.print(calibration_table(doc["calibration"]))
