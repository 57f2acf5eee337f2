"""The processes a fault run owns: one redis-server (AOF on, chosen fsync policy) and one
``hongbao serve``. Both listen on 127.0.0.1 only, restart on the same port (Redis: same data
dir, so it replays its append-only file), and are signalled only by the PIDs started here."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis

from hongbao.loadtests.storm.procs import free_port, wait_healthy

FSYNC_POLICIES = ("always", "everysec", "no")


@dataclass
class RedisProc:
    """redis-server with ``appendonly yes`` and ``appendfsync`` = ``fsync`` (None: no AOF)."""
    dir: Path
    fsync: str | None = "everysec"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
               "--save", "", "--daemonize", "no", "--logfile", "redis.log"]
        if self.fsync is None:
            return cmd + ["--appendonly", "no"]
        if self.fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)} (got {self.fsync!r})")
        return cmd + ["--appendonly", "yes", "--appendfsync", self.fsync]

    def start(self, timeout_s: float = 15.0) -> "RedisProc":
        """Start (or restart after a kill) and wait until it answers PING with its data loaded."""
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self.log_tail()}")
                try:
                    if client.ping():
                        return self
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError,
                        redis.exceptions.TimeoutError):
                    time.sleep(0.02)
        finally:
            client.close()
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} not ready after {timeout_s} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL by PID: a crash; only what the AOF already holds survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # delivered to a stopped process too
            self.proc.wait(10)

    def stop(self) -> None:
        """A clean restart's first half: SIGTERM (Redis flushes its AOF and exits), SIGKILL after 10 s."""
        _terminate(self.proc)

    def pause(self, stopped: bool) -> None:
        """SIGSTOP (``stopped``) or SIGCONT: a process frozen longer than the clients' timeout."""
        _freeze(self.proc, stopped)

    def log_tail(self, lines: int = 8) -> str:
        path = self.dir / "redis.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.splitlines()[-lines:])


@dataclass
class ServiceProc:
    """``hongbao serve --store STORE`` (one worker) on a fixed loopback port."""
    store: str
    log_path: Path
    seed: int = 0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "ServiceProc":
        cmd = [sys.executable, "-m", "hongbao.harness.cli", "serve", "--store", self.store, "--port", str(self.port),
               "--seed", str(self.seed), "--workers", "1"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(self.base_url, timeout_s=timeout_s, proc=self.proc)
        except RuntimeError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the server and any worker it forked, by PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                child.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 10 s."""
        _terminate(self.proc, self.kill)

    def pause(self, stopped: bool) -> None:
        """SIGSTOP (``stopped``) or SIGCONT the server and any worker it forked."""
        _freeze(self.proc, stopped)


def _terminate(proc: subprocess.Popen | None, kill=None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        (kill or proc.kill)()
        proc.wait(10)


def _freeze(proc: subprocess.Popen | None, stopped: bool) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.Error:
        return
    for p in family:
        try:
            p.send_signal(signal.SIGSTOP if stopped else signal.SIGCONT)
        except psutil.Error:
            pass
