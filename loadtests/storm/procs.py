"""Processes of a storm: the grab service and Locust (single, --processes N, or master + workers).

Everything listens on 127.0.0.1 only, logs into the run folder, and is ended by PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hongbao.loadtests.adapters.http import wait_ready
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
from hongbao.loadtests.adapters.reference import ReferenceAdapter
from hongbao.loadtests.procs import free_port, serve_command, start, stop

__all__ = [
    "free_port",
    "stop",
    "start_service",
    "start_locust",
    "locust_env",
    "wait_healthy",
    "fetch_ledger",
    "fetch_ledger_redis",
]

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
REDIS_LOCUSTFILE = Path(__file__).resolve().parents[1] / "redis_user.py"


def wait_healthy(host: str, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """GET /healthz until it answers ok; RuntimeError with the reason otherwise."""
    wait_ready(ReferenceAdapter(), host, timeout_s=timeout_s, proc=proc)


def start_service(
    store: str, seed: int, log_path: Path, workers: int = 1, timeout_s: float = 60.0
) -> tuple[subprocess.Popen, str]:
    """Start the reference grab service (``hongbao serve``) on a free loopback port and wait up to
    ``timeout_s`` for /healthz (a first start compiles the kernels); returns (process, base URL)."""
    port = free_port()
    proc = start(serve_command(store, port, seed, workers), log=log_path)
    host = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(host, timeout_s=timeout_s, proc=proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"{exc} (see service.log in the run folder)") from None
    return proc, host


def locust_env(scenario_path: str, duration_s: float, seed: int, out_dir: Path, run_tag: str) -> dict:
    return {
        **os.environ,
        "HONGBAO_SCENARIO": str(Path(scenario_path).resolve()),
        "HONGBAO_DURATION_S": str(duration_s),
        "HONGBAO_SEED": str(seed),
        "HONGBAO_STORM_OUT": str(out_dir),
        "HONGBAO_RUN_TAG": run_tag,
        "PYTHONUNBUFFERED": "1",
    }


def start_locust(
    *,
    host: str,
    env: dict,
    out_dir: Path,
    duration_s: float,
    processes: int | None,
    workers: int | None,
    stop_timeout_s: float = 5.0,
    locustfile: Path = LOCUSTFILE,
) -> list[subprocess.Popen]:
    """Locust headless, bounded by the scenario shape and by --run-time as a backstop.

    ``processes``: Locust's own --processes N (one command, forked workers);
    ``workers``: an explicit ``--master`` plus N ``--worker`` processes, the same commands that
    spread a storm over machines. Returns [main or master, *workers].
    """
    base = [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]
    main = base + [
        "--headless",
        "--host",
        host,
        "--csv",
        str(out_dir / "locust"),
        "--csv-full-history",
        "--html",
        str(out_dir / "locust.html"),
        "--json-file",
        str(out_dir / "locust_final"),  # final stats, after all workers
        "--stop-timeout",
        f"{int(stop_timeout_s)}s",
        "--run-time",
        f"{int(duration_s + 15)}s",
        "--exit-code-on-error",
        "0",
    ]
    extra: list[list[str]] = []
    if workers:
        port = free_port()
        main += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--expect-workers-max-wait",
            "30",
        ]
        extra = [base + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)] for _ in range(workers)]
    elif processes and processes > 1:
        main += ["--processes", str(processes)]
    procs = []
    for i, cmd in enumerate([main] + extra):
        procs.append(
            start(cmd, log=out_dir / ("locust.log" if i == 0 else f"locust-worker{i}.log"), env=env, cwd=out_dir)
        )
    return procs


def fetch_ledger_redis(url: str) -> dict:
    """The ledger straight from a Redis store (for --redis-direct storms, no service running)."""
    import asyncio

    from hongbao.loadtests.service.stores.redis_store import RedisStore

    async def go():
        store = RedisStore(url)
        await store.open()
        try:
            return await store.ledger()
        finally:
            await store.close()

    return asyncio.run(go())


def fetch_ledger(host: str, page: int = 10_000) -> dict:
    """The reference service's whole ledger, page by page (GET /ledger?after_id=&limit=)."""
    http = KeepAliveHttp(host)
    try:
        return ReferenceAdapter().export_ledger(http, page=page)
    finally:
        http.close()
