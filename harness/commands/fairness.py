"""``hongbao fairness``: scorecard of the split algorithms, or audit of your own allocator."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tomllib
from pathlib import Path

from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit
from hongbao.seeds import seed_file

HELP = "fairness scorecard of the split algorithms or of your own allocator"
DEFAULTS_FILE = seed_file("fairness.toml")
BUILTIN = {
    "seed": 20261125,
    "total_cents": 10000,
    "count": 10,
    "envelopes": 100000,
    "alpha": 0.01,
    "min_cents": 1,
    "algorithms": ["double_mean", "line_cut", "naive", "equal", "beta"],
    "calibration": {"envelopes": 2000},
}


def load_defaults(path: Path = DEFAULTS_FILE) -> dict:
    """seeds/fairness.toml over the built-in defaults (the file is optional)."""
    out = dict(BUILTIN)
    if path.exists():
        with path.open("rb") as fh:
            out.update(tomllib.load(fh))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Split many envelopes with each algorithm (or call your allocator) and score fairness by grab\n"
        "position: mean and std by position with confidence intervals, P(best luck) by position (ties to\n"
        "the earliest grabber), Gini, and exchangeability tests whose p-values give a verdict at --alpha\n"
        "(Bonferroni over 3 tests). Writes fairness.json and PNG plots into --out.\n\n"
        "exit codes: 0 every algorithm behaves as kernels.ALGORITHMS claims (position_fair);\n"
        "            1 a claim failed (or too many false alarms with --repeat-seeds);\n"
        "            2 bad usage; 4 an allocator broke exactness (sum, minimum, count, integers)."
    )
    parser.epilog = (
        "examples:\n  hongbao fairness\n  hongbao fairness --algorithms naive,line_cut --envelopes 20000\n"
        "  hongbao fairness --callable mypkg.split:allocate --total 20000 --count 8\n"
        "  hongbao fairness --algorithms line_cut,beta --repeat-seeds 100"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    d = load_defaults()
    parser.add_argument(
        "--algorithms",
        help=f"comma-separated names (default: all: {','.join(d['algorithms'])}; none when only --callable is given)",
    )
    parser.add_argument("--count", type=int, default=d["count"], help="people per envelope (default %(default)s)")
    parser.add_argument(
        "--total",
        type=int,
        default=d["total_cents"],
        dest="total_cents",
        help="cents per envelope (default %(default)s)",
    )
    parser.add_argument(
        "--envelopes", type=int, default=d["envelopes"], help="envelopes per algorithm (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=d["seed"], help="RNG seed (default %(default)s, from seeds/fairness.toml)"
    )
    parser.add_argument("--alpha", type=float, default=d["alpha"], help="significance level (default %(default)s)")
    parser.add_argument("--min-cents", type=int, default=d["min_cents"], help="floor per share (default %(default)s)")
    parser.add_argument("--max-cents", type=int, default=None, help="cap per share (default: none)")
    parser.add_argument(
        "--callable",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="audit your allocator f(total_cents, count) -> list[int], importable from the current "
        "directory or the venv; repeatable",
    )
    parser.add_argument(
        "--callable-claim",
        choices=["fair", "unfair"],
        default="fair",
        help="what your allocator claims (default fair: exit 1 if it is not)",
    )
    parser.add_argument(
        "--repeat-seeds",
        type=int,
        default=0,
        metavar="K",
        help="also score K seeds (from --seed) with --calibration-envelopes each and test "
        "the false-alarm rate of the fair algorithms against alpha (binomial test)",
    )
    parser.add_argument(
        "--calibration-envelopes",
        type=int,
        default=d["calibration"]["envelopes"],
        help="envelopes per seed for --repeat-seeds (default %(default)s)",
    )
    parser.add_argument("--out", type=Path, help="run folder (default results/<UTC timestamp>/)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def _usage_error(msg: str) -> int:
    print(f"hongbao fairness: error: {msg}", file=sys.stderr)
    return int(Exit.UNUSABLE)


def _validate(args) -> tuple[list[str], list]:
    from hongbao.harness.fairness.allocator import load_callable
    from hongbao.kernels import check, registry

    if args.algorithms is not None:
        names = [a.strip() for a in args.algorithms.split(",") if a.strip()]
        if not names:
            raise ValueError("--algorithms is empty")
    else:
        names = [] if args.callable else list(load_defaults()["algorithms"])
    for name in names:
        registry.algorithm(name)
    check(args.total_cents, args.count, algorithm="line_cut", min_cents=args.min_cents, max_cents=args.max_cents)
    if args.envelopes < 2:
        raise ValueError(f"--envelopes must be >= 2 (got {args.envelopes})")
    if not 0 < args.alpha < 1:
        raise ValueError(f"--alpha must be in (0, 1) (got {args.alpha})")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0 (got {args.seed})")
    if args.repeat_seeds < 0 or args.calibration_envelopes < 2:
        raise ValueError("--repeat-seeds must be >= 0 and --calibration-envelopes >= 2")
    if str(Path.cwd()) not in sys.path:  # let --callable import the user's own modules
        sys.path.insert(0, str(Path.cwd()))
    return names, [(spec, load_callable(spec)) for spec in args.callable]


def run(args) -> int:
    try:
        names, callables = _validate(args)
    except ValueError as exc:
        return _usage_error(str(exc))
    from hongbao.harness.fairness import plots, view
    from hongbao.harness.fairness.scorecard import new_document, score_algorithm, score_allocator

    console = view.make_console()
    out_dir = (args.out or default_run_dir()).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    common = dict(
        total=args.total_cents,
        count=args.count,
        seed=args.seed,
        alpha=args.alpha,
        min_cents=args.min_cents,
        max_cents=args.max_cents,
    )
    doc = new_document(envelopes=args.envelopes, **common)
    with view.progress(console) as prog:
        for name in names:
            task = prog.add_task(f"{name}: split + score", total=None)
            doc["algorithms"][name] = score_algorithm(name, envelopes=args.envelopes, **common)
            prog.update(task, total=1, completed=1)
        for spec, func in callables:
            task = prog.add_task(f"{spec}: call + check", total=args.envelopes)
            doc["algorithms"][f"callable:{spec}"] = score_allocator(
                func,
                envelopes=args.envelopes,
                claimed_position_fair=args.callable_claim == "fair",
                advance=functools.partial(prog.advance, task),
                **common,
            )
        if args.repeat_seeds:
            doc["calibration"] = view.run_calibration(prog, names, args, common)
    (out_dir / "fairness.json").write_text(json.dumps(doc, indent=1, allow_nan=False))
    figures = [] if args.no_plots else plots.write_plots(doc, out_dir)
    view.print_scorecard(console, doc)
    console.print(f"wrote {out_dir / 'fairness.json'}" + "".join(f", {p.name}" for p in figures))
    return int(verdict(doc))


def verdict(doc: dict) -> Exit:
    """4 if an allocator is broken, 1 if a claim failed (incl. calibration), else 0."""
    from hongbao.harness.fairness.scorecard import claims_hold

    if any(e.get("broken") for e in doc["algorithms"].values()):
        return Exit.AUDIT_FAILED
    calib_ok = all(c["consistent_with_alpha"] for c in doc.get("calibration", {}).values())
    return Exit.OK if claims_hold(doc) and calib_ok else Exit.REGRESSION
