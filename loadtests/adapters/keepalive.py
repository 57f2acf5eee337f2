"""The kit's one HTTP client: a blocking HTTP/1.1 keep-alive connection that implements ``Http``.

Set-up, readiness, ledger exports, soaks and the storm's grab users all use it. It holds one
connection, writes each request in one ``sendall`` and reads the answer by its Content-Length (or
its chunks), which costs a small fraction of a general-purpose client's CPU per request: that is
what keeps the load generator cheaper than the service it loads. Under gevent (inside Locust, whose
workers patch ``socket``) each user's connection waits cooperatively; elsewhere it simply blocks.

    http = KeepAliveHttp("http://127.0.0.1:8000")
    http.request("POST", "/envelopes/7/grab", json={"user": "u1", "request_id": "r1"}).json()

Any failure to get a whole answer (refused, reset, timed out, cut mid-answer) raises
``TransportError`` (an ``OSError``) and drops the connection, so a late answer is never read as the
next request's; the next request reconnects.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import orjson

from hongbao.loadtests.adapters import Reply

_MAX_HEAD_BYTES = 64 * 1024


class TransportError(OSError):
    """No whole HTTP answer: refused, reset, timed out, or the connection was cut mid-answer."""


class _NoAnswer(Exception):
    """The connection ended before the first byte of the answer."""


class KeepAliveHttp:
    """``Http`` over one keep-alive connection to ``base_url`` (http or https). 4xx and 5xx come
    back as a ``Reply``; only a missing answer raises (``TransportError``). ``timeout_s`` bounds each
    connect and read; None waits as long as it takes (the storm's grabbers, which the storm's end
    stops)."""

    def __init__(self, base_url: str, timeout_s: float | None = 60.0) -> None:
        u = urlsplit(base_url.rstrip("/"))
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"host must look like http://HOST:PORT (got {base_url!r})")
        self.base_url = base_url.rstrip("/")
        self.tls = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.tls else 80)
        self.prefix = u.path  # a base path such as http://h/api is kept
        self.host_header = u.netloc.rsplit("@", 1)[-1]
        self.timeout_s = timeout_s
        try:
            self.family: int | None = (
                socket.AF_INET6 if ipaddress.ip_address(self.host).version == 6 else socket.AF_INET
            )
        except ValueError:
            self.family = None  # a name: resolved at each connect
        self._sock: socket.socket | None = None
        self._buf = b""
        self._status, self._head = 0, b""

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) if headers else ""
        if json is None:
            payload, kind = b"", ""
        else:
            payload, kind = orjson.dumps(json), "Content-Type: application/json\r\n"
        wire = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            f"Content-Length: {len(payload)}\r\n{kind}{extra}\r\n"
        ).encode("latin-1") + payload
        try:
            reused = self._sock is not None
            if not reused:
                self._connect()
            try:
                self._send_and_read_head(wire)
            except (ConnectionError, _NoAnswer):
                if not reused:
                    raise
                # the server closed the idle connection before it read this request: nothing was
                # received, so it was never processed; send it once more on a new connection
                self.close()
                self._connect()
                self._send_and_read_head(wire)
            status, head = self._status, self._head
            body = self._read_body(head)
        except (OSError, ValueError, IndexError) as exc:
            self.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if b"\r\nconnection: close" in head or (
            head.startswith(b"http/1.0") and b"\r\nconnection: keep-alive" not in head
        ):
            self.close()
        return Reply(status, body)

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock, self._buf = None, b""

    # -- the codec ------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self.family is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        else:  # an IP address: no name lookup (under gevent that is a trip through a thread pool)
            sock = socket.socket(self.family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect((self.host, self.port))
            except OSError:
                sock.close()
                raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self._sock, self._buf = sock, b""

    def _send_and_read_head(self, wire: bytes) -> None:
        assert self._sock is not None
        sent = self._sock.send(wire)  # a request fits the send buffer: one call, no sendall set-up
        if sent < len(wire):
            self._sock.sendall(wire[sent:])
        if not self._buf:
            first = self._sock.recv(65536)
            if not first:
                raise _NoAnswer()
            self._buf = first
        self._status, self._head = self._read_head()

    def _recv(self) -> bytes:
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            raise TransportError("connection closed before the whole answer came")
        return data

    def _read_head(self) -> tuple[int, bytes]:
        """(status, lower-cased head); 1xx interim answers are skipped."""
        while True:
            end = self._buf.find(b"\r\n\r\n")
            while end < 0:
                if len(self._buf) > _MAX_HEAD_BYTES:
                    raise TransportError("answer head over 64 KiB")
                self._buf += self._recv()
                end = self._buf.find(b"\r\n\r\n")
            head, self._buf = self._buf[: end + 2].lower(), self._buf[end + 4 :]
            status = int(head[9:12])
            if status >= 200:
                return status, head

    def _read_body(self, head: bytes) -> bytes:
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            return self._take(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
        if b"\r\ntransfer-encoding: chunked" in head:
            parts: list[bytes] = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the empty line
                        pass
                    return b"".join(parts)
                parts.append(self._take(size))
                self._take(2)
        if head.startswith(b"http/1.0") or b"\r\nconnection: close" in head:
            while True:  # the body runs to the end of the connection
                try:
                    self._buf += self._recv()
                except TransportError:
                    body, self._buf = self._buf, b""
                    return body
        return b""  # no body (204, 304, or none announced)

    def _take(self, n: int) -> bytes:
        if len(self._buf) < n:  # chunks joined once: a large body is copied once, not per recv
            parts, have = [self._buf], len(self._buf)
            while have < n:
                parts.append(self._recv())
                have += len(parts[-1])
            self._buf = b"".join(parts)
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _line(self) -> bytes:
        end = self._buf.find(b"\r\n")
        while end < 0:
            self._buf += self._recv()
            end = self._buf.find(b"\r\n")
        line, self._buf = self._buf[:end], self._buf[end + 2 :]
        return line
