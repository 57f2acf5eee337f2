"""Run ``hongbao serve`` as a real subprocess on a free loopback port, for tests, storms and faults.

    with service_process("memory") as svc:                 # or a redis:// / redis+cluster:// URL
        svc.base_url                                        # "http://127.0.0.1:PORT"
        svc.kill(); svc.start()                             # SIGKILL by PID (and its workers), restart
    with service_process(srv.url, workers=2, seed=7) as svc: ...

A thin user of hongbao.loadtests.procs (ServiceProc): a temp log, and its tail in errors.
Startup waits for GET /healthz; a service that fails to start raises with its log tail. Only the
processes started here (the server and its uvicorn workers) are ever signalled, by PID.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hongbao.loadtests import procs


class ServiceProcess(procs.ServiceProc):
    """One ``hongbao serve`` process (plus its uvicorn workers when workers > 1), logging to a temp file."""

    def __init__(
        self,
        store: str = "memory",
        port: int = 0,
        seed: int = 0,
        workers: int = 1,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        log_path = log_path or Path(tempfile.mkstemp(prefix="hb-serve-", suffix=".log")[1])
        super().__init__(store, log_path, seed=seed, port=port or None, workers=workers, extra_args=extra_args)
        self.log_path = log_path

    def pids(self) -> list[int]:
        """The server PID and its worker PIDs (for CPU sampling with psutil)."""
        return [p.pid for p in reversed(procs.family(self.proc))]

    def start(self) -> ServiceProcess:
        try:
            return super().start()
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def service_process(
    store: str = "memory",
    *,
    seed: int = 0,
    workers: int = 1,
    port: int | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[ServiceProcess]:
    """A started service; stopped on exit (SIGTERM, then SIGKILL)."""
    svc = ServiceProcess(store=store, port=port or 0, seed=seed, workers=workers, extra_args=extra_args)
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
