"""``hongbao soak``: grab load for D seconds under a nemesis of kills, pauses and restarts of
redis-server and the service, checked after every fault's recovery and at the end (issue 16).
Exit codes: 0 clean, 2 UNUSABLE setup, 4 AUDIT_FAILED (money, double pay-out, a lost ack, a refund)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hongbao.harness import durations
from hongbao.loadtests.exitcodes import Exit

HELP = "grab load under a schedule of kills and pauses; checks money, acks and refunds after each fault"

EPILOG = ("examples:\n"
          "  hongbao soak --duration 600 --out results/soak-10min\n"
          "  hongbao soak --duration 60 --nemesis kill-redis@10s,pause-service@25s+3s,kill-service@40s\n"
          "faults: kill-redis, kill-service (SIGKILL, restart 0.5 s later), pause-redis, pause-service\n"
          "  (SIGSTOP, SIGCONT after +Ns, default 3 s > the 2 s client timeout), restart-redis (SIGTERM, start).\n"
          "default nemesis: one of them in turn every 20-30 s (seeded), from 8 s on.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--duration", type=durations.flag("--duration"), required=True, help="seconds of load (faults fall within them)")
    parser.add_argument("--store", help="default: a redis-server with the AOF started here; redis://HOST:PORT/DB "
                                        "(not ours: service faults only), memory or python:MODULE:CLASS (pause-service only)")
    parser.add_argument("--nemesis", help="comma-separated faults, e.g. kill-redis@20s,pause-service@45s+4s")
    parser.add_argument("--fsync", choices=["always", "everysec", "no"], default="everysec",
                        help="appendfsync of the redis-server started here (default everysec)")
    parser.add_argument("--concurrency", type=int, default=48, help="grabs in flight (default 48)")
    parser.add_argument("--count", type=int, default=40, help="shares per envelope (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed of envelopes, users and the nemesis")
    parser.add_argument("--out", type=Path, help="run folder for soak.json, service.log, the Redis data dir "
                                                 "(default results/<UTC time>/)")


def _config(args: argparse.Namespace):
    from hongbao.loadtests.faults.soak import SoakConfig
    from hongbao.loadtests.faults.soak_load import LoadConfig
    from hongbao.loadtests.faults.spec import default_nemesis, parse_nemesis

    if not 10 <= args.duration <= 86_400:
        raise ValueError(f"--duration must be between 10 and 86400 s (got {args.duration:g})")
    if not 1 <= args.concurrency <= 1024 or not 2 <= args.count <= 10_000:
        raise ValueError("--concurrency must be 1..1024 and --count 2..10000")
    faults = parse_nemesis(args.nemesis) if args.nemesis else default_nemesis(args.duration, seed=args.seed)
    late = [str(f) for f in faults if f.at_s + f.down_s >= args.duration]
    if late:
        raise ValueError(f"--nemesis: {', '.join(late)} not undone within the {args.duration:g} s of load")
    if args.store and any(f.target == "redis" for f in faults):
        raise ValueError("--store names a Redis this soak did not start: only service faults are allowed")
    if args.store and not args.store.startswith("redis://") and any(f.action != "pause" for f in faults):
        raise ValueError(f"--store {args.store} loses everything when the service stops: only pause-service faults")
    return SoakConfig(store=args.store, fsync=args.fsync, nemesis=faults, seed=args.seed, out_dir=args.out,
                      load=LoadConfig(args.duration, concurrency=args.concurrency, count=args.count, seed=args.seed))


def run(args: argparse.Namespace) -> int:
    from hongbao.harness.rundirs import default_run_dir
    from hongbao.loadtests.faults.soak import run_soak

    try:
        args.out = args.out or default_run_dir()
        cfg = _config(args)
    except ValueError as exc:
        print(f"hongbao soak: {exc}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    print(f"hongbao soak: {args.duration:g} s, faults: {', '.join(str(f) for f in cfg.nemesis) or 'none'}; "
          f"run folder {args.out}", flush=True)

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
    return (f"soak {doc['duration_s']:g} s: {doc['acknowledged']:,} grabs acknowledged ({doc['acks_per_s']:,} /s in "
            f"the window), lost {doc['lost_acks']} ({doc['lost_acks_beyond_promise']} beyond the fsync promise), "
            f"audit {'OK' if doc['audit_ok'] else 'FAILED'}, {len(doc['faults'])} faults: {faults or 'none'}")
