"""The kit's one process layer: start a command, wait until it is ready, pause, kill and stop it,
always by the PID we started (and that process's own children), never by name.

    proc = start([...], log=run_dir / "service.log")
    wait_until(lambda: ..., proc=proc, what="the service", timeout_s=30)
    pause(proc, True); pause(proc, False)     # SIGSTOP / SIGCONT, children included
    kill(proc)                                # SIGKILL: a crash
    stop(proc)                                # SIGTERM, SIGKILL after the timeout

``Restartable`` keeps one command (same port, same data dir) that a fault run kills and starts
again: ``RedisProc`` (redis-server) and ``ServiceProc`` (``hongbao serve``) are two. The service,
redis-server, Locust and the example service of storms, faults, soaks, capacity and the tests all
start here.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import psutil


def free_port(*, cluster_bus: bool = False) -> int:
    """A currently free TCP port on 127.0.0.1 (and port+10000 too, for a Redis Cluster node's bus)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not cluster_bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as s, contextlib.suppress(OSError):
                s.bind(("127.0.0.1", port + 10000))
                return port
    raise RuntimeError("no free loopback port found")


def start(
    cmd: Sequence[str], *, log: Path | None = None, env: dict | None = None, cwd: Path | str | None = None
) -> subprocess.Popen:
    """Start ``cmd``; its stdout and stderr go to ``log`` (appended) or nowhere."""
    if log is None:
        return subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def wait_until(
    ready: Callable[[], bool],
    *,
    proc: subprocess.Popen | None = None,
    what: str = "the process",
    timeout_s: float = 20.0,
    every_s: float = 0.05,
) -> None:
    """Poll ``ready()`` (an exception counts as not yet) until True; RuntimeError with the last
    reason when ``proc`` exits first or ``timeout_s`` passes."""
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready ({last})")
        try:
            if ready():
                return
            last = "not ready yet"
        except Exception as exc:  # noqa: BLE001 - not up yet; the last reason is reported
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(every_s)
    raise RuntimeError(f"{what} not ready after {timeout_s:g} s ({last})")


def family(proc: subprocess.Popen | None) -> list[psutil.Process]:
    """The process and its children (workers first), while it runs."""
    if proc is None or proc.poll() is not None:
        return []
    try:
        parent = psutil.Process(proc.pid)
        return [*parent.children(recursive=True), parent]
    except psutil.Error:
        return []


def _send(procs: list[psutil.Process], sig: int) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(sig)


def pause(proc: subprocess.Popen | None, stopped: bool) -> None:
    """SIGSTOP (``stopped``) or SIGCONT the process and its children."""
    _send(family(proc), signal.SIGSTOP if stopped else signal.SIGCONT)


def kill(proc: subprocess.Popen | None, timeout_s: float = 10.0) -> None:
    """SIGKILL the process and its children (a crash: nothing flushed), and reap it."""
    _send(family(proc), signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout_s)


def stop(proc: subprocess.Popen | None, timeout_s: float = 10.0) -> None:
    """A graceful end: SIGCONT (a paused process cannot act on SIGTERM), SIGTERM, then SIGKILL
    of the process and the children it had once ``timeout_s`` passes; children left behind are
    killed too."""
    procs = family(proc)
    if not procs:
        return
    assert proc is not None  # family(None) is empty
    _send(procs, signal.SIGCONT)
    with contextlib.suppress(psutil.Error):
        procs[-1].send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        _send(procs, signal.SIGKILL)
        proc.wait(timeout_s)
    _send([p for p in procs[:-1] if p.is_running()], signal.SIGKILL)


@dataclass
class Restartable:
    """One command that is started, crashed and started again with the same arguments (same port,
    same data dir): a fault run's service or redis-server. ``ready()`` says it can take load."""

    command: list[str]
    ready: Callable[[], bool]
    what: str = "the process"
    log: Path | None = None
    env: dict | None = None
    timeout_s: float = 30.0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Self:
        self.proc = start(self.command, log=self.log, env=self.env)
        try:
            wait_until(self.ready, proc=self.proc, what=self.what, timeout_s=self.timeout_s)
        except RuntimeError:
            kill(self.proc)
            raise
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def kill(self) -> None:
        kill(self.proc)

    def stop(self) -> None:
        stop(self.proc)

    def pause(self, stopped: bool) -> None:
        pause(self.proc, stopped)


FSYNC_POLICIES = ("always", "everysec", "no")


def redis_command(port: int, data_dir: Path, options: dict[str, str]) -> list[str]:
    """redis-server on 127.0.0.1:``port`` in ``data_dir``, logging to redis.log; ``options`` as --name value."""
    cmd = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--daemonize",
        "no",
        "--logfile",
        "redis.log",
    ]
    for name, value in options.items():
        cmd += [f"--{name.replace('_', '-')}", str(value)]
    return cmd


def redis_pings(port: int) -> bool:
    """True once redis-server on ``port`` answers PING with its data loaded."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError, redis.exceptions.TimeoutError):
        return False
    finally:
        client.close()


class RedisProc(Restartable):
    """redis-server with ``appendonly yes`` and ``appendfsync`` = ``fsync`` (None: no AOF)."""

    def __init__(
        self,
        data_dir: Path,
        fsync: str | None = "everysec",
        port: int | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        if fsync is not None and fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)} (got {fsync!r})")
        self.dir, self.fsync, self.port = Path(data_dir), fsync, port or free_port()
        aof = {"appendonly": "no"} if fsync is None else {"appendonly": "yes", "appendfsync": fsync}
        super().__init__(
            redis_command(self.port, self.dir, {"save": "", **aof, **(options or {})}),
            lambda: redis_pings(self.port),
            what=f"redis-server on port {self.port}",
            timeout_s=15.0,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
        try:
            return super().start()
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log_tail()}") from None

    def log_tail(self, lines: int = 8) -> str:
        path = self.dir / "redis.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.splitlines()[-lines:])


def serve_command(store: str, port: int, seed: int = 0, workers: int = 1, extra: list[str] | None = None) -> list[str]:
    """``hongbao serve`` as this interpreter runs it."""
    return [
        sys.executable,
        "-m",
        "hongbao.harness.cli",
        "serve",
        "--store",
        store,
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        *(extra or []),
    ]


def healthy(base_url: str) -> bool:
    """GET /healthz answers ok (the reference service is up and its store reachable)."""
    from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
    from hongbao.loadtests.adapters.reference import ReferenceAdapter

    http = KeepAliveHttp(base_url, timeout_s=2)
    try:
        return ReferenceAdapter().ready(http)
    finally:
        http.close()


class ServiceProc(Restartable):
    """``hongbao serve --store STORE`` (``workers`` processes) on a fixed loopback port."""

    def __init__(
        self,
        store: str,
        log_path: Path | None = None,
        seed: int = 0,
        port: int | None = None,
        workers: int = 1,
        extra_args: list[str] | None = None,
    ) -> None:
        self.store, self.seed, self.port = store, seed, port or free_port()
        super().__init__(
            serve_command(store, self.port, seed, workers, extra_args),
            lambda: healthy(self.base_url),
            what="hongbao serve",
            log=log_path,
            timeout_s=60.0,
        )  # a first start compiles the kernels

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
