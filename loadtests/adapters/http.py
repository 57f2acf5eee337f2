"""The blocking ``Http`` the kit hands adapters outside Locust (set-up, readiness, ledger export):
the kit's one client, ``KeepAliveHttp``, under the name the rest of the kit imports."""

from __future__ import annotations

from urllib.parse import urlsplit

from hongbao.loadtests.adapters import BaseAdapter, Reply
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp

BlockingHttp = KeepAliveHttp


def wait_ready(adapter: BaseAdapter, host: str, timeout_s: float = 20.0, proc=None) -> None:
    """Poll ``adapter.ready`` until True; RuntimeError with the last reason otherwise."""
    from hongbao.loadtests.procs import wait_until

    http = KeepAliveHttp(host, timeout_s=2)
    try:
        wait_until(
            lambda: adapter.ready(http),
            proc=proc,
            what=f"{host} ({type(adapter).__name__}.ready)",
            timeout_s=timeout_s,
            every_s=0.1,
        )
    finally:
        http.close()


def get(url: str, timeout_s: float = 10.0) -> Reply:
    """GET a full URL (``http://host:port/path?query``) on a connection of its own."""
    parts = urlsplit(url)
    http = KeepAliveHttp(f"{parts.scheme}://{parts.netloc}", timeout_s=timeout_s)
    try:
        return http.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    finally:
        http.close()
