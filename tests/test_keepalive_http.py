"""The kit's keep-alive client against the real reference service, and against a stdlib server for
the answer framings a user's service may use (chunked, HTTP/1.0 to close, no body)."""

from __future__ import annotations

import http.server
import threading

import pytest

from hongbao.loadtests.adapters.keepalive import KeepAliveHttp, TransportError
from tests.support.redis_server import free_port


def test_one_connection_carries_create_grab_repeat_and_errors(memory_service):  # noqa: F811
    http = KeepAliveHttp(memory_service.base_url, timeout_s=5)
    r = http.request(
        "POST",
        "/envelopes",
        json={"sender": "s", "total_cents": 1000, "count": 2, "algorithm": "double_mean", "mode": "pre_split"},
    )
    assert r.status == 201, r.body
    eid = r.json()["id"]
    sock = http._sock
    g1 = http.request("POST", f"/envelopes/{eid}/grab", json={"user": "u1", "request_id": "r1"}).json()
    again = http.request("POST", f"/envelopes/{eid}/grab", json={"user": "u1", "request_id": "r1"}).json()
    assert again["amount_cents"] == g1["amount_cents"] and again.get("repeat") is True
    g2 = http.request("POST", f"/envelopes/{eid}/grab", json={"user": "u2", "request_id": "r2"}).json()
    assert g1["amount_cents"] + g2["amount_cents"] == 1000
    sold = http.request("POST", f"/envelopes/{eid}/grab", json={"user": "u3", "request_id": "r3"})
    assert sold.status == 409 and sold.json()["error"] == "sold_out"
    bad = http.request(
        "POST",
        "/envelopes",
        json={"sender": "s", "total_cents": 1, "count": 0, "algorithm": "double_mean", "mode": "pre_split"},
    )
    assert bad.status in (400, 422) and "count" in bad.json()["detail"]
    assert http.request("GET", f"/envelopes/{eid}").json()["remaining_count"] == 0
    assert http._sock is sock, "every request went over the one keep-alive connection"


def test_a_killed_service_is_a_transport_error_and_the_next_request_reconnects(memory_service):  # noqa: F811
    http = KeepAliveHttp(memory_service.base_url, timeout_s=5)
    assert http.request("GET", "/healthz").status == 200
    memory_service.kill()
    with pytest.raises(TransportError):
        http.request("GET", "/healthz")
    memory_service.start()
    assert http.request("GET", "/healthz").status == 200


class _Framings(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"a": ', b"1", b"}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":  # HTTP/1.0: the body runs to the end of the connection
            self.wfile.write(b'HTTP/1.0 200 OK\r\n\r\n{"b": 2}')
            self.close_connection = True
        elif self.path == "/idle-close":  # answers, then closes the idle connection unannounced
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            self.close_connection = True
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, *args):
        pass


def test_chunked_close_delimited_and_empty_answers():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Framings)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        http_ = KeepAliveHttp(f"http://127.0.0.1:{server.server_port}", timeout_s=5)
        assert http_.request("GET", "/chunked").json() == {"a": 1}
        assert http_.request("GET", "/close").json() == {"b": 2}
        empty = http_.request("GET", "/nothing")
        assert empty.status == 204 and empty.body == b""
        assert http_.request("GET", "/chunked").json() == {"a": 1}
        assert http_.request("GET", "/idle-close").json() == {}
        assert http_.request("GET", "/chunked").json() == {"a": 1}, "resent once on a new connection"
    finally:
        server.shutdown()
        server.server_close()


def test_refused_and_bad_urls_say_what_is_wrong():
    with pytest.raises(TransportError):
        KeepAliveHttp(f"http://127.0.0.1:{free_port()}", timeout_s=2).request("GET", "/healthz")
    with pytest.raises(ValueError, match="host must look like"):
        KeepAliveHttp("127.0.0.1:8000")
