"""``hongbao serve``: run the reference grab service on uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.storm.target import is_loopback_host

HELP = "start the reference grab service (memory or Redis store)"
KEEP_ALIVE_S = 75  # longer than any storm's think time: idle keep-alive connections stay open


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve the grab API (POST /envelopes, POST /envelopes/{id}/grab, GET /envelopes/{id}, "
        "POST /envelopes/{id}/refund, GET /ledger, GET /healthz, GET /openapi.json) on uvicorn "
        "with uvloop + httptools. Binds 127.0.0.1 unless --allow-remote."
    )
    parser.add_argument(
        "--store",
        default="memory",
        metavar="URL",
        help="memory (default; one worker, nothing persisted), redis://HOST:PORT/DB, "
        "redis+cluster://HOST:PORT, or python:MODULE:CLASS (test stores)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; more than 1 needs a Redis store)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="RNG seed of every split: shares are a pure function of (seed, envelope id)"
    )
    parser.add_argument(
        "--keep-alive-s",
        type=int,
        default=KEEP_ALIVE_S,
        help=f"idle keep-alive timeout in seconds (default {KEEP_ALIVE_S})",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (the service has no authentication)",
    )
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def check_args(args: argparse.Namespace) -> str | None:
    """The reason these arguments cannot be served, or None."""
    if not is_loopback_host(args.host) and not args.allow_remote:
        return (
            f"--host {args.host} is not a loopback address; the service has no authentication. "
            "Pass --allow-remote to bind it anyway."
        )
    if not 0 < args.port < 65536:
        return f"--port must be 1..65535 (got {args.port})"
    if args.workers < 1:
        return f"--workers must be >= 1 (got {args.workers})"
    if args.store == "memory" and args.workers != 1:
        return (
            f"--store memory keeps state inside one process: it needs --workers 1 (got {args.workers}); "
            "use --store redis://127.0.0.1:6379/0 for more workers"
        )
    if args.seed < 0:
        return f"--seed must be >= 0 (got {args.seed})"
    if args.keep_alive_s < 1:
        return f"--keep-alive-s must be >= 1 (got {args.keep_alive_s})"
    return None


async def _probe(url: str, seed: int) -> None:
    from hongbao.loadtests.service.stores import open_store

    store = open_store(url, seed=seed)
    try:
        await store.open()
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    problem = check_args(args)
    if problem is None:
        try:
            asyncio.run(_probe(args.store, args.seed))
        except Exception as exc:  # noqa: BLE001 - any failure to reach the store ends here, clearly
            problem = f"cannot open --store {args.store}: {type(exc).__name__}: {exc}"
    if problem:
        print(f"hongbao serve: {problem}", file=sys.stderr)
        return Exit.UNUSABLE
    import uvicorn

    os.environ["HONGBAO_STORE"] = args.store
    os.environ["HONGBAO_SEED"] = str(args.seed)
    print(
        f"hongbao serve: http://{args.host}:{args.port} store={args.store} workers={args.workers} "
        f"seed={args.seed} keep-alive={args.keep_alive_s}s (API: /openapi.json)",
        flush=True,
    )
    uvicorn.run(
        "hongbao.loadtests.service.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_keep_alive=args.keep_alive_s,
        backlog=4096,
        access_log=False,
        log_level=args.log_level,
    )
    return Exit.OK
