"""The blocking ``Http`` the kit hands adapters outside Locust (set-up, readiness, ledger export)."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from hongbao.loadtests.adapters import BaseAdapter, Reply


class BlockingHttp:
    """urllib against ``base_url``; 4xx/5xx come back as a Reply, network errors raise OSError."""

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s

    def request(self, method: str, path: str, *, json: Any = None,
                headers: dict[str, str] | None = None) -> Reply:
        data = None if json is None else orjson.dumps(json)
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return Reply(resp.status, resp.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read())


def wait_ready(adapter: BaseAdapter, host: str, timeout_s: float = 20.0, proc=None) -> None:
    """Poll ``adapter.ready`` until True; RuntimeError with the last reason otherwise."""
    http = BlockingHttp(host, timeout_s=2)
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"service exited with code {proc.returncode} before becoming ready "
                               "(see service.log in the run folder)")
        try:
            if adapter.ready(http):
                return
            last = f"{type(adapter).__name__}.ready() said False"
        except (OSError, ValueError, KeyError) as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.1)
    raise RuntimeError(f"{host} not ready after {timeout_s:.0f}s ({last})")
