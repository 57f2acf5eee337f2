"""``hongbao soak``: grab load for D seconds under a nemesis of kills, pauses and restarts of the
service (and redis-server), checked after every fault's recovery and at the end. The service is the
kit's own, or the user's (``--host`` with ``--adapter`` and ``--nemesis-cmd``/``--nemesis``).
Exit codes: 0 clean, 2 UNUSABLE setup, 4 AUDIT_FAILED (money, double pay-out, a lost ack, a refund)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hongbao.harness import durations
from hongbao.loadtests.exitcodes import Exit

HELP = "grab load under a schedule of kills and pauses; checks money, acks and refunds after each fault"

EPILOG = (
    "examples:\n"
    "  hongbao soak --duration 600 --out results/soak-10min\n"
    "  hongbao soak --duration 60 --schedule kill-redis@10s,pause-service@25s+3s,kill-service@40s\n"
    "  hongbao soak --duration 5m --host http://127.0.0.1:9000 \\\n"
    "      --adapter hongbao.loadtests.examples.yuan_adapter:YuanAdapter --promise durable \\\n"
    "      --nemesis-cmd kill='docker kill yuan' --nemesis-cmd restart='docker start yuan' \\\n"
    "      --nemesis-cmd pause='docker pause yuan' --nemesis-cmd resume='docker unpause yuan'\n"
    "faults: kill-redis, kill-service (SIGKILL, restart 0.5 s later), pause-redis, pause-service\n"
    "  (SIGSTOP, SIGCONT after +Ns, default 3 s > the 2 s client timeout), restart-redis (SIGTERM, start).\n"
    "default schedule: one of them in turn every 20-30 s (seeded), from 8 s on (with --host: the\n"
    "  service faults the nemesis can perform). docs/nemesis.md: soaking your own service."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--duration",
        type=durations.flag("--duration"),
        required=True,
        help="length of the load, e.g. 600, 10m, 1h (faults fall within it)",
    )
    parser.add_argument(
        "--store",
        help="default: a redis-server with the AOF started here; redis://HOST:PORT/DB "
        "(not ours: service faults only), memory or python:MODULE:CLASS (pause-service only)",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "no"],
        default="everysec",
        help="appendfsync of the redis-server started here (default everysec)",
    )
    parser.add_argument("--concurrency", type=int, default=48, help="grabs in flight (default 48)")
    parser.add_argument("--count", type=int, default=40, help="shares per envelope (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed of envelopes, users and the nemesis")
    parser.add_argument(
        "--out",
        type=Path,
        help="run folder for soak.json, service.log, the Redis data dir (default results/<UTC time>/)",
    )


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that aim a soak or a fault run at the user's own service (docs/nemesis.md)."""
    parser.add_argument(
        "--schedule", metavar="FAULTS", help="comma-separated faults, e.g. kill-redis@20s,pause-service@45s+4s"
    )
    parser.add_argument(
        "--nemesis",
        metavar="MODULE:CLASS",
        help="a nemesis class (setup/invoke/teardown, docs/nemesis.md); a schedule given here "
        "(kill-redis@20s,...) is read as --schedule",
    )
    parser.add_argument(
        "--nemesis-cmd",
        action="append",
        default=[],
        metavar="ACTION=CMD",
        help="a shell command per action for a service the kit did not start: kill=, restart=, "
        "pause=, resume= (repeat the flag), e.g. kill='docker kill svc'",
    )
    parser.add_argument(
        "--host",
        metavar="URL",
        help="the user's running service (loopback only), reached through --adapter and broken by the nemesis",
    )
    parser.add_argument(
        "--adapter", metavar="MODULE:CLASS", help="the service's adapter (default: the reference contract); with --host"
    )
    parser.add_argument(
        "--promise",
        choices=["durable", "none"],
        default="durable",
        help="what the service promises: durable = no acknowledged grab is lost across a fault; "
        "none = lost acknowledgements are counted, not failed (default durable)",
    )


def breaker_and_schedule(args: argparse.Namespace):
    """(nemesis for --host or None, schedule text or None) from the target flags; ValueError on misuse."""
    from hongbao.loadtests.faults.nemesis import load_nemesis, parse_commands
    from hongbao.loadtests.storm.target import check_target

    schedule, nemesis_class = args.schedule, None
    if args.nemesis and "@" in args.nemesis:
        if schedule:
            raise ValueError("give the schedule once: --schedule (or --nemesis FAULTS), not both")
        schedule = args.nemesis
    elif args.nemesis:
        nemesis_class = args.nemesis
    if (args.nemesis_cmd or nemesis_class or args.adapter) and not args.host:
        raise ValueError(
            "--nemesis MODULE:CLASS, --nemesis-cmd and --adapter are for a service the kit did not "
            "start: give its --host"
        )
    if not args.host:
        return None, schedule
    args.host = check_target(args.host, allow_remote=False)
    if args.nemesis_cmd and nemesis_class:
        raise ValueError("give --nemesis-cmd or --nemesis MODULE:CLASS, not both")
    if args.nemesis_cmd:
        return parse_commands(args.nemesis_cmd), schedule
    if not nemesis_class:
        raise ValueError(
            "--host needs a nemesis: --nemesis-cmd kill='...' --nemesis-cmd restart='...' "
            "(and pause=, resume=) or --nemesis MODULE:CLASS"
        )
    return load_nemesis(nemesis_class), schedule


def _config(args: argparse.Namespace):
    from hongbao.loadtests.faults.nemesis import check_schedule, needed_ops
    from hongbao.loadtests.faults.soak import SoakConfig
    from hongbao.loadtests.faults.soak_load import LoadConfig
    from hongbao.loadtests.faults.spec import default_nemesis, parse_nemesis

    if not 10 <= args.duration <= 86_400:
        raise ValueError(f"--duration must be between 10 and 86400 s (got {args.duration:g})")
    if not 1 <= args.concurrency <= 1024 or not 2 <= args.count <= 10_000:
        raise ValueError("--concurrency must be 1..1024 and --count 2..10000")
    breaker, schedule = breaker_and_schedule(args)
    if schedule:
        faults = parse_nemesis(schedule)
    elif breaker is not None:
        offered = set(getattr(breaker, "ops", ()) or ())
        kinds = tuple(
            k
            for k in ("kill-service", "pause-service", "restart-service")
            if not offered or needed_ops(parse_nemesis(f"{k}@10s")) <= offered
        )
        if not kinds:
            raise ValueError(
                "the nemesis can perform none of kill-service (kill and restart), pause-service (pause "
                "and resume), restart-service: give those --nemesis-cmd actions or a --schedule"
            )
        faults = default_nemesis(args.duration, seed=args.seed, kinds=kinds)
    else:
        faults = default_nemesis(args.duration, seed=args.seed)
    if breaker is not None:
        if any(f.target != "service" for f in faults):
            raise ValueError("--host: the kit did not start a redis-server; only service faults are allowed")
        check_schedule(breaker, faults)
    late = [str(f) for f in faults if f.at_s + f.down_s >= args.duration]
    if late:
        raise ValueError(f"--nemesis: {', '.join(late)} not undone within the {args.duration:g} s of load")
    if args.store and any(f.target == "redis" for f in faults):
        raise ValueError("--store names a Redis this soak did not start: only service faults are allowed")
    if args.store and not args.store.startswith("redis://") and any(f.action != "pause" for f in faults):
        raise ValueError(f"--store {args.store} loses everything when the service stops: only pause-service faults")
    if args.host and args.store:
        raise ValueError("--store is for the service the kit starts; the service at --host has its own")
    return SoakConfig(
        store=args.store,
        fsync=args.fsync,
        nemesis=faults,
        seed=args.seed,
        out_dir=args.out,
        load=LoadConfig(args.duration, concurrency=args.concurrency, count=args.count, seed=args.seed),
        host=args.host,
        adapter=args.adapter,
        breaker=breaker,
        promise=args.promise,
    )


def run(args: argparse.Namespace) -> int:
    from hongbao.harness.rundirs import default_run_dir
    from hongbao.loadtests.faults.soak import run_soak

    try:
        args.out = args.out or default_run_dir()
        cfg = _config(args)
    except ValueError as exc:
        print(f"hongbao soak: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    print(
        f"hongbao soak: {args.duration:g} s, faults: {', '.join(str(f) for f in cfg.nemesis) or 'none'}; "
        f"run folder {args.out}",
        flush=True,
    )

    def progress(done_s: float, acks: int) -> None:
        print(f"\r  {done_s:5.0f}/{args.duration:g} s  {acks:,} grabs acknowledged", end="", flush=True)

    try:
        doc = run_soak(cfg, progress=progress if sys.stdout.isatty() else None)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"\nhongbao soak: setup failed: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    print()
    print(summary(doc))
    for line in doc["failures"]:
        print(f"  FAILED: {line}")
    print(f"figures: {Path(args.out) / 'soak.json'} (hongbao report {args.out} draws grabs/s with the faults)")
    return int(Exit.OK if doc["audit_ok"] else Exit.AUDIT_FAILED)


def summary(doc: dict) -> str:
    faults = "; ".join(f"{f['spec']} recovered in {f['recovery_s']} s" for f in doc["faults"])
    lost = (
        "lost acks not checkable (no ledger export)"
        if doc["lost_acks"] is None
        else f"lost {doc['lost_acks']} ({doc['lost_acks_beyond_promise']} beyond the promise: {doc['promise']})"
    )
    return (
        f"soak {doc['duration_s']:g} s: {doc['acknowledged']:,} grabs acknowledged ({doc['acks_per_s']:,} /s in "
        f"the window), {lost}, "
        f"audit {'OK' if doc['audit_ok'] else 'FAILED'}, {len(doc['faults'])} faults: {faults or 'none'}"
    )
