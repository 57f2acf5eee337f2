"""Which targets a storm may hit: loopback (127.0.0.0/8, ::1, localhost) freely, anything else
only when asked explicitly (``--allow-remote-target``): a storm is a denial of service for
whoever did not expect it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse


def is_loopback(url: str) -> bool:
    """True when ``url``'s host is a loopback name or address (127.0.0.2 counts)."""
    return is_loopback_host((urlparse(url).hostname or "").lower())


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, allow_remote: bool, flag: str = "--host") -> str:
    """``url`` without a trailing slash; ValueError naming ``flag`` when it is not an http(s) URL
    with a host, or is remote without ``allow_remote``."""
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"{flag} must be an http:// or https:// URL with a host (got {url!r})")
    try:
        _ = u.port  # parsing the port is the check
    except ValueError:
        raise ValueError(f"{flag}: bad port in {url!r}") from None
    if not allow_remote and not is_loopback(url):
        raise ValueError(
            f"{flag} {url} is not a loopback address (127.0.0.0/8, ::1, localhost): storming it "
            "needs --allow-remote-target (make sure you own it and its operators expect the load)"
        )
    return url.rstrip("/")
