"""Run ``hongbao serve`` as a real subprocess on a free loopback port, for tests, storms and faults.

    with service_process("memory") as svc:                 # or a redis:// / redis+cluster:// URL
        svc.base_url                                        # "http://127.0.0.1:PORT"
        svc.kill(); svc.start()                             # SIGKILL by PID (and its workers), restart
    with service_process(srv.url, workers=2, seed=7) as svc: ...

Startup waits for GET /healthz; a service that fails to start raises with its log tail. Only the
processes started here (the server and its uvicorn workers) are ever signalled, by PID.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from tests.support.redis_server import free_port


@dataclass
class ServiceProcess:
    """One ``hongbao serve`` process (plus its uvicorn workers when workers > 1)."""
    store: str = "memory"
    port: int = 0
    seed: int = 0
    workers: int = 1
    extra_args: list[str] = field(default_factory=list)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def pids(self) -> list[int]:
        """The server PID and its worker PIDs (for CPU sampling with psutil)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent.pid] + [c.pid for c in parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def command(self) -> list[str]:
        return [sys.executable, "-m", "hongbao.harness.cli", "serve", "--store", self.store, "--port", str(self.port),
                "--seed", str(self.seed), "--workers", str(self.workers), *self.extra_args]

    def start(self, timeout_s: float = 30.0) -> "ServiceProcess":
        if not self.port:
            self.port = free_port()
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="hb-serve-", suffix=".log")[1])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hongbao serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"hongbao serve not healthy after {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pids = self.pids()
        for pid in reversed(pids):  # workers first when killing hard, so none are orphaned
            if sig == signal.SIGKILL or pid == self.proc.pid:
                with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                    psutil.Process(pid).send_signal(sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Graceful: SIGTERM to the server (uvicorn stops its workers), SIGKILL after 15 s."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Crash: SIGKILL the server and its workers (by PID)."""
        self._signal(signal.SIGKILL)


@contextlib.contextmanager
def service_process(store: str = "memory", *, seed: int = 0, workers: int = 1, port: int | None = None,
                    extra_args: list[str] | None = None) -> Iterator[ServiceProcess]:
    """A started service; stopped on exit (SIGTERM, then SIGKILL)."""
    svc = ServiceProcess(store=store, port=port or 0, seed=seed, workers=workers, extra_args=extra_args or [])
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()
        if svc.log_path is not None:
            svc.log_path.unlink(missing_ok=True)


@pytest.fixture
def memory_service() -> Iterator[ServiceProcess]:
    """A fresh memory-store service for one test."""
    with service_process("memory") as svc:
        yield svc
