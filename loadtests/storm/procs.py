"""Processes of a storm: the grab service and Locust (single, --processes N, or master + workers).

Everything listens on 127.0.0.1 only, logs into the run folder, and is ended by PID.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
REDIS_LOCUSTFILE = Path(__file__).resolve().parents[1] / "redis_user.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, *, timeout_s: float = 10.0, method: str = "GET", body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def wait_healthy(host: str, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> dict:
    """GET /healthz until it answers ok; RuntimeError with the reason otherwise."""
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"service exited with code {proc.returncode} before becoming healthy "
                               f"(see service.log in the run folder)")
        try:
            answer = http_json(host.rstrip("/") + "/healthz", timeout_s=2)
            if answer.get("ok"):
                return answer
            last = f"/healthz answered {answer}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"{host}/healthz not ok after {timeout_s:.0f}s ({last})")


def start_service(store: str, seed: int, log_path: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """Start the reference grab service (``hongbao serve``) on a free loopback port;
    returns (process, base URL)."""
    port = free_port()
    cmd = [sys.executable, "-m", "hongbao.harness.cli", "serve", "--store", store, "--port", str(port),
           "--seed", str(seed), "--workers", str(workers)]
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    host = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(host, proc=proc)
    except RuntimeError:
        stop(proc)
        raise
    return proc, host


def locust_env(scenario_path: str, duration_s: float, seed: int, out_dir: Path, run_tag: str) -> dict:
    return {**os.environ, "HONGBAO_SCENARIO": str(Path(scenario_path).resolve()),
            "HONGBAO_DURATION_S": str(duration_s), "HONGBAO_SEED": str(seed),
            "HONGBAO_STORM_OUT": str(out_dir), "HONGBAO_RUN_TAG": run_tag,
            "PYTHONUNBUFFERED": "1"}


def start_locust(*, host: str, env: dict, out_dir: Path, duration_s: float, processes: int | None,
                 workers: int | None, stop_timeout_s: float = 5.0,
                 locustfile: Path = LOCUSTFILE) -> list[subprocess.Popen]:
    """Locust headless, bounded by the scenario shape and by --run-time as a backstop.

    ``processes``: Locust's own --processes N (one command, forked workers);
    ``workers``: an explicit ``--master`` plus N ``--worker`` processes, the same commands that
    spread a storm over machines. Returns [main or master, *workers].
    """
    base = [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]
    main = base + ["--headless", "--host", host, "--csv", str(out_dir / "locust"),
                   "--csv-full-history", "--html", str(out_dir / "locust.html"),
                   "--json-file", str(out_dir / "locust_final"),   # final stats, after all workers
                   "--stop-timeout", f"{int(stop_timeout_s)}s", "--run-time", f"{int(duration_s + 15)}s",
                   "--exit-code-on-error", "0"]
    extra: list[list[str]] = []
    if workers:
        port = free_port()
        main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--expect-workers", str(workers), "--expect-workers-max-wait", "30"]
        extra = [base + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                 for _ in range(workers)]
    elif processes and processes > 1:
        main += ["--processes", str(processes)]
    procs = []
    for i, cmd in enumerate([main] + extra):
        log = open(out_dir / ("locust.log" if i == 0 else f"locust-worker{i}.log"), "ab")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out_dir))
        log.close()
    return procs


def stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """End a process we started and its children, by PID: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass


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
    from hongbao.loadtests.adapters.http import BlockingHttp
    from hongbao.loadtests.adapters.reference import ReferenceAdapter
    return ReferenceAdapter().export_ledger(BlockingHttp(host), page=page)
