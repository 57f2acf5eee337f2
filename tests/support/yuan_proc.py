"""The example service (hongbao.loadtests.examples.yuan_service) as a real subprocess on a free
loopback port, for the adapter tests. Stopped by PID."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from hongbao.loadtests.adapters.http import wait_ready
from hongbao.loadtests.examples.yuan_adapter import YuanAdapter
from hongbao.loadtests.procs import free_port, start, stop


@contextlib.contextmanager
def yuan_service(*args: str, host: str = "127.0.0.1", log: Path | None = None) -> Iterator[str]:
    """Start it with ``args`` (e.g. "--bug", "lost-cent"); yields its base URL."""
    port = free_port()
    proc = start(
        [sys.executable, "-m", "hongbao.loadtests.examples.yuan_service", "--host", host, "--port", str(port), *args],
        log=log,
    )
    url = f"http://{host}:{port}"
    try:
        wait_ready(YuanAdapter(), url, timeout_s=20, proc=proc)
        yield url
    finally:
        stop(proc)
