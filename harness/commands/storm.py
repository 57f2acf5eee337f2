"""``hongbao storm``: a bounded Locust grab storm against the reference service (or --host),
post-storm ledger audit, SLO gate. Exit codes: 0 OK, 2 UNUSABLE, 3 SLO_BREACH, 4 AUDIT_FAILED."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hongbao.harness import durations
from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit
from hongbao.seeds import shipped_names

HELP = "run a bounded Locust grab storm, audit the ledger, gate on SLOs"


duration_s = durations.flag("--duration")  # 30, 30s, 2m, 1h, 1m30s -> seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "examples:\n"
        "  hongbao storm --scenario countdown\n"
        "  hongbao storm --scenario countdown --store redis://127.0.0.1:6379/0 "
        "--processes 2 --slo 'p99<50ms' --slo 'errors<0.1%'\n"
        "  hongbao storm --scenario my-storm.toml --host http://127.0.0.1:8000\n"
        "  hongbao storm --scenario smoke --host http://127.0.0.1:9000 "
        "--adapter hongbao.loadtests.examples.yuan_adapter:YuanAdapter\n"
        "  hongbao storm --scenario countdown --host http://10.0.0.9:8000 --allow-remote-target "
        "--master --bind 10.0.0.5:5557 --expect-workers 8   # + hongbao worker on each machine\n"
        "exit codes: 0 OK, 2 UNUSABLE setup, 3 SLO_BREACH, 4 AUDIT_FAILED"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--scenario",
        required=True,
        metavar="NAME|TOML",
        help="storm scenario: a shipped name (" + ", ".join(shipped_names("storms")) + ") "
        "or a TOML file of your own (seed, envelopes, users, shape)",
    )
    parser.add_argument(
        "--store",
        default="memory",
        help="store of the service this command starts: memory (default) or redis://HOST:PORT/DB (a running Redis)",
    )
    parser.add_argument(
        "--redis-direct",
        action="store_true",
        help="no HTTP: Locust users run the store's grab script straight against "
        "--store redis://... (measures the store alone)",
    )
    parser.add_argument(
        "--service-workers",
        type=int,
        default=1,
        help="uvicorn workers of the started service (default 1; more needs Redis)",
    )
    add_target_arguments(parser)
    parser.add_argument("--duration", type=duration_s, help="override the scenario's duration_s (e.g. 30s)")
    parser.add_argument("--processes", type=int, help="Locust --processes N (forked workers on this machine)")
    parser.add_argument("--workers", type=int, help="explicit Locust master + N worker processes (as across machines)")
    add_fleet_arguments(parser)
    parser.add_argument(
        "--slo",
        action="append",
        default=[],
        metavar="EXPR",
        help="gate, repeatable: p99<50ms, p99.9<=20ms, mean<5ms, errors<0.1%%, grabs_per_s>=1000, rps>2000",
    )
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--out", type=Path, help="run folder (default results/<UTC timestamp>/); storm.json goes there")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    parser.add_argument(
        "--fault",
        metavar="KIND@TIME",
        help="fault run instead of a Locust storm: kill-redis@10s or kill-service@10s "
        "(SIGKILL mid-load, restart, clients retry with the same request ids, then the "
        "ledger audit checks every acknowledged grab); uses its own redis-server with "
        "the AOF, the scenario's seed and duration (at most 60 s)",
    )
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "no", "none"],
        default="everysec",
        help="with --fault: the redis-server's appendfsync policy (none: no AOF)",
    )


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """--host, --adapter, --metrics, --allow-remote-target (storm and capacity)."""
    parser.add_argument(
        "--host",
        metavar="URL",
        help="storm a running service at this URL instead of starting one (outside "
        "127.0.0.0/8 and ::1 only with --allow-remote-target)",
    )
    parser.add_argument(
        "--adapter",
        metavar="MODULE:CLASS",
        help="adapter for the --host service's own API (a hongbao.loadtests.adapters."
        "BaseAdapter subclass; default: the reference contract)",
    )
    parser.add_argument(
        "--metrics",
        action="append",
        default=[],
        metavar="URL",
        help="Prometheus /metrics of the target, repeatable (one per process): its "
        "process_cpu_seconds_total gives the service's CPU (default: psutil, "
        "for a service on this machine)",
    )
    parser.add_argument(
        "--allow-remote-target",
        action="store_true",
        help="allow a --host/--metrics outside this machine (127.0.0.0/8, ::1, localhost)",
    )


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    """--master, --bind, --expect-workers, --workers-wait (storm and capacity)."""
    parser.add_argument(
        "--master",
        action="store_true",
        help="fleet: run the Locust master here and generate the load on other machines "
        "(`hongbao worker --master THIS_HOST:PORT` on each); needs --expect-workers",
    )
    parser.add_argument(
        "--bind",
        default="0.0.0.0:5557",
        metavar="ADDR:PORT",
        help="fleet: where the master listens for its workers (default 0.0.0.0:5557)",
    )
    parser.add_argument(
        "--expect-workers",
        type=int,
        metavar="N",
        help="fleet: worker processes to wait for before the storm starts (a worker with --processes 4 counts 4)",
    )
    parser.add_argument(
        "--workers-wait",
        type=duration_s,
        default=60.0,
        metavar="DURATION",
        help="fleet: how long the master waits for them (default 60s)",
    )


def check_fleet_arguments(
    args: argparse.Namespace, host: str | None, locust_workers: int | None = None
) -> tuple[str, int] | None:
    """The master's bind address in fleet mode, None otherwise; ValueError naming the flag."""
    from hongbao.loadtests.storm.fleet import parse_address
    from hongbao.loadtests.storm.target import is_loopback_host

    if not args.master:
        if args.expect_workers is not None:
            raise ValueError("--expect-workers needs --master")
        return None
    if not args.expect_workers or args.expect_workers < 1:
        raise ValueError(f"--master needs --expect-workers N >= 1 (got {args.expect_workers})")
    if getattr(args, "processes", None) not in (None, 1) or locust_workers:
        raise ValueError("--master generates the load on its workers: no --processes or --workers with it")
    bind = parse_address(args.bind, "--bind")
    if host is None and not getattr(args, "redis_direct", False) and not is_loopback_host(bind[0]):
        raise ValueError(
            "--master: the service this command starts listens on 127.0.0.1 only, out of the "
            "workers' reach: give --host URL of a service they reach (or --bind 127.0.0.1:PORT "
            "for workers on this machine)"
        )
    return bind


def check_target_arguments(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(host, metrics URLs) checked; ValueError naming the flag."""
    from hongbao.loadtests.storm.target import check_target

    if args.adapter and not args.host:
        raise ValueError("--adapter needs --host URL (the service this command starts speaks the reference contract)")
    host = check_target(args.host, args.allow_remote_target) if args.host else None
    return host, [check_target(m, args.allow_remote_target, "--metrics") for m in args.metrics]


def print_fleet(fleet: dict | None) -> None:
    """One line per worker host (its grabs) and one per lost worker process."""
    if not fleet:
        return
    print(
        f"fleet: master {fleet['master']}, {fleet['connected_workers']} of {fleet['expected_workers']} "
        f"worker process(es) connected"
    )
    for h in fleet["hosts"]:
        lost = f", {h['lost_processes']} lost" if h["lost_processes"] else ""
        print(
            f"  {h['host']} ({', '.join(h['addresses'])}): {h['processes']} process(es), {h['grabs']:,} grabs "
            f"of {h['grab_requests']:,} grab requests{lost}"
        )
    for w in fleet["lost_workers"]:
        print(
            f"  lost: {w['host']} pid {w['pid']} {w['lost']} (last report at {w['last_report_s']} s, "
            f"noticed at {w['lost_at_s']} s); the storm went on without it"
        )


def _fail(msg: str) -> int:
    print(f"hongbao storm: {msg}", file=sys.stderr)
    return int(Exit.UNUSABLE)


def run(args: argparse.Namespace) -> int:
    from hongbao.loadtests import slo
    from hongbao.loadtests.storm import scenario as scen
    from hongbao.loadtests.storm.run import StormConfig, run_storm
    from hongbao.loadtests.storm.summary import print_summary

    try:
        sc = scen.load(args.scenario).with_overrides(duration_s=args.duration, seed=args.seed)
        slos = [slo.parse_slo(s) for s in args.slo]
    except ValueError as e:
        return _fail(str(e))
    try:
        host, metrics = check_target_arguments(args)
    except ValueError as e:
        return _fail(str(e))
    if not (args.store == "memory" or args.store.startswith(("redis://", "redis+cluster://", "python:"))):
        return _fail(f"--store must be memory or redis://HOST:PORT/DB (got {args.store!r})")
    if args.service_workers < 1 or (args.service_workers > 1 and args.store == "memory"):
        return _fail(f"--service-workers must be 1 with --store memory and >= 1 otherwise (got {args.service_workers})")
    for name in ("processes", "workers"):
        n = getattr(args, name)
        if n is not None and n < 1:
            return _fail(f"--{name} must be >= 1 (got {n})")
    if args.redis_direct and (args.host or not args.store.startswith("redis://")):
        return _fail("--redis-direct needs --store redis://HOST:PORT/DB and no --host")
    if args.processes and args.workers:
        return _fail("use --processes or --workers, not both")
    try:
        bind = check_fleet_arguments(args, host, args.workers)
    except ValueError as e:
        return _fail(str(e))
    out = (args.out or default_run_dir()).resolve()
    if args.fault:
        # Locust users do not retry failed grabs with their request ids, and the storm does not own
        # the redis-server it would kill: the fault runner does both (loadtests/faults/).
        from hongbao.harness.commands.faults import storm_fault

        return storm_fault(args.fault, seed=sc.seed, duration_s=sc.duration_s, out_dir=out, fsync=args.fsync)
    cfg = StormConfig(
        scenario=sc,
        out_dir=out,
        store=args.store,
        host=host,
        adapter=args.adapter,
        metrics=metrics,
        processes=args.processes,
        workers=args.workers,
        slos=slos,
        master=bind,
        expect_workers=args.expect_workers,
        workers_wait_s=args.workers_wait,
        service_workers=args.service_workers,
        redis_direct=args.redis_direct,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    outcome = run_storm(cfg)
    print_summary(outcome)
    print_fleet(outcome.data.get("fleet"))
    return int(outcome.exit)
