"""The example service (hongbao.loadtests.examples.yuan_service) as a real subprocess on a free
loopback port, for the adapter tests. Stopped by PID."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from hongbao.loadtests.storm.procs import stop
from tests.support.redis_server import free_port


@contextlib.contextmanager
def yuan_service(*args: str, host: str = "127.0.0.1", log: Path | None = None) -> Iterator[str]:
    """Start it with ``args`` (e.g. "--bug", "lost-cent"); yields its base URL."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "hongbao.loadtests.examples.yuan_service",
                             "--host", host, "--port", str(port), *args], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/api/v2/ping", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"yuan_service did not start (exit {proc.returncode})") from None
                time.sleep(0.1)
        yield url
    finally:
        stop(proc)
        if log:
            out.close()
