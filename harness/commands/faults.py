"""``hongbao faults``: one bounded fault run - SIGKILL redis-server or the service
mid-storm, restart it, clients retry with the same request ids, then audit the ledger against
every acknowledged grab. Exit codes: 0 the promise held, 2 UNUSABLE setup, 4 AUDIT_FAILED."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hongbao.harness import durations
from hongbao.loadtests.exitcodes import Exit

HELP = "kill Redis or the service mid-storm, restart, audit: is every acknowledged grab still there?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  hongbao faults --fault kill-redis@1.5s --fsync always\n"
        "  hongbao faults --fault kill-redis@2s --fsync everysec --users 60 --duration 5\n"
        "  hongbao faults --fault kill-service@1.5s --out results/faults-1\n"
        "promises checked (README, loadtests/faults/promises.py):\n"
        "  appendfsync always   : no acknowledged grab lost\n"
        "  appendfsync everysec : none acknowledged more than 2 s before the crash lost\n"
        "  kill-service         : no acknowledged grab lost (the service holds no state)\n"
        "  --store memory / --fsync none : nothing promised (figures only)"
    )
    parser.add_argument(
        "--fault",
        required=True,
        help="kill-redis@SECONDS or kill-service@SECONDS (e.g. 1.5s, 800ms); "
        "with --host: kill-service (the nemesis's kill, then restart)",
    )
    parser.add_argument(
        "--store",
        choices=["redis", "memory"],
        default="redis",
        help="redis: a redis-server started here on a free loopback port (default); memory",
    )
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "no", "none"],
        default="everysec",
        help="appendfsync of that redis-server; none = appendonly no (default everysec)",
    )
    parser.add_argument("--envelopes", type=int, default=12, help="envelopes created before the storm (default 12)")
    parser.add_argument("--count", type=int, default=30, help="shares per envelope (default 30)")
    parser.add_argument("--users", type=int, default=36, help="users; each tries every envelope once (default 36)")
    parser.add_argument(
        "--duration",
        type=durations.flag("--duration"),
        default=3.0,
        help="how long the grabs are spread over (default 3s)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="grabs in flight at most (default 16)")
    parser.add_argument(
        "--down-s",
        type=durations.flag("--down-s"),
        default=0.5,
        help="time between the kill and the restart (default 0.5s)",
    )
    parser.add_argument(
        "--recover-s",
        type=durations.flag("--recover-s"),
        default=20.0,
        help="retry window after the storm (default 20s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="RNG seed of envelopes, due times, shares")
    parser.add_argument("--out", type=Path, help="folder for faults.json, service.log and the Redis data dir")
    from hongbao.harness.commands.soak import add_target_arguments

    add_target_arguments(parser)


def _check(args: argparse.Namespace) -> str | None:
    for name in ("envelopes", "count", "users", "concurrency"):
        if getattr(args, name) < 1:
            return f"--{name} must be >= 1 (got {getattr(args, name)})"
    if args.envelopes * args.users > 20_000:
        return f"--envelopes x --users must be <= 20000 grabs (got {args.envelopes * args.users})"
    if not 0 < args.duration <= 120 or not 0 < args.recover_s <= 300:
        return "--duration must be in (0, 120] s and --recover-s in (0, 300] s"
    if args.store == "memory" and args.fault.startswith("kill-redis"):
        return "--fault kill-redis needs --store redis"
    return None


def run(args: argparse.Namespace) -> int:
    from hongbao.loadtests.faults import FaultRunConfig, parse_fault

    try:
        fault = parse_fault(args.fault, down_s=args.down_s)
    except ValueError as exc:
        print(f"hongbao faults: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    problem = _check(args)
    try:
        from hongbao.harness.commands.soak import breaker_and_schedule
        from hongbao.loadtests.faults.nemesis import check_schedule

        breaker, schedule = breaker_and_schedule(args)
        if schedule:
            problem = problem or "hongbao faults takes one --fault (a schedule is for hongbao soak)"
        if breaker is not None:
            if fault.target != "service":
                problem = problem or "--host: the kit did not start a redis-server; only kill-service"
            check_schedule(breaker, [fault])
    except ValueError as exc:
        problem = problem or str(exc)
    if problem:
        print(f"hongbao faults: {problem}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    cfg = FaultRunConfig(
        fault,
        store=args.store,
        fsync=None if args.fsync == "none" else args.fsync,
        envelopes=args.envelopes,
        count=args.count,
        users=args.users,
        duration_s=args.duration,
        concurrency=args.concurrency,
        seed=args.seed,
        recover_s=args.recover_s,
        work_dir=args.out,
        adapter=args.adapter,
        host=args.host,
        nemesis=breaker,
        promise=args.promise,
    )
    return run_and_print(cfg)


def run_and_print(cfg) -> int:
    """Run one FaultRunConfig, print its figures and broken promises; returns the exit code."""
    from hongbao.loadtests.faults import run_fault

    where = (
        f"{cfg.host} ({type(cfg.nemesis).__name__})" if cfg.host else f"store={cfg.store} fsync={cfg.fsync or 'none'}"
    )
    print(
        f"hongbao faults: {cfg.fault} on {where}: "
        f"{cfg.envelopes * cfg.users} grabs over {cfg.duration_s:g} s (+ up to {cfg.recover_s:g} s of retries)...",
        flush=True,
    )
    try:
        report = run_fault(cfg)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"hongbao faults: setup failed: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    print(report.summary())
    for reason in report.reasons:
        print(f"  BROKEN: {reason}")
    if cfg.work_dir:
        print(f"figures: {Path(cfg.work_dir) / 'faults.json'}")
    return int(Exit.OK if report.ok else Exit.AUDIT_FAILED)


def storm_fault(
    fault_text: str, *, seed: int, duration_s: float, out_dir: Path | None = None, fsync: str = "everysec"
) -> int:
    """What ``hongbao storm --fault kill-redis@10s`` should run: this fault run (its own
    redis-server with the AOF, its own service, the retrying client) with the storm scenario's
    seed and duration (capped at 60 s). Exit code as ``hongbao faults``."""
    from hongbao.loadtests.faults import FaultRunConfig, parse_fault

    try:
        fault = parse_fault(fault_text)
    except ValueError as exc:
        print(f"hongbao storm: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    duration_s = min(float(duration_s), 60.0)
    if fault.at_s >= duration_s:
        print(f"hongbao storm: --fault at {fault.at_s:g} s is not within the storm's {duration_s:g} s", file=sys.stderr)
        return int(Exit.UNUSABLE)
    users = max(36, min(400, int(duration_s * 12)))  # about 150 grabs/s over 12 envelopes
    return run_and_print(
        FaultRunConfig(
            fault,
            store="redis",
            fsync=None if fsync == "none" else fsync,
            seed=seed,
            duration_s=duration_s,
            users=users,
            count=users - 6,
            work_dir=out_dir,
        )
    )
