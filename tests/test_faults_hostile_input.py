"""Hand-written hostile requests and the service's protections, against a real
``hongbao serve`` process on 127.0.0.1 (memory store).

Every hostile request must get a 4xx JSON answer ``{"error", "detail"}`` (never a 5xx, never a
hang) and must change nothing: the ledger and the envelopes' states are compared before/after.
Protections: body size limit (413), request ids and user ids bounded and validated (422 naming
the field), and ``hongbao serve`` refuses a non-loopback bind unless ``--allow-remote``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys

import httpx
import pytest

from hongbao.harness.commands import serve
from hongbao.loadtests.service import validation as v
from tests.support.service_proc import service_process

LIMIT = v.MAX_BODY_BYTES
HTTP = httpx.Client(timeout=10)  # one keep-alive connection pool for the module


@pytest.fixture(scope="module")
def svc():
    with service_process("memory", seed=5) as proc:
        base = proc.base_url
        for body in (
            {"sender": "boss", "total_cents": 1000, "count": 5, "algorithm": "double_mean", "mode": "pre_split"},
            {"sender": "shop", "total_cents": 900, "count": 3, "algorithm": "beta", "mode": "on_grab"},
        ):
            assert httpx.post(base + "/envelopes", json=body).status_code == 201
        assert httpx.post(base + "/envelopes/1/grab", json={"user": "u1", "request_id": "r1"}).status_code == 200
        yield proc


def snapshot(base: str) -> tuple:
    return (
        HTTP.get(base + "/ledger").json(),
        HTTP.get(base + "/envelopes/1").json(),
        HTTP.get(base + "/envelopes/2").json(),
    )


def send(base: str, method: str, path: str, content: bytes | None = None, headers: dict | None = None):
    return HTTP.request(
        method, base + path, content=content, headers={"content-type": "application/json", **(headers or {})}
    )


def assert_rejected(svc, response, status: int | tuple[int, ...], field: str | None = None, before=None):
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, f"{response.status_code} {response.text[:300]}"
    body = response.json()
    assert set(body) >= {"error", "detail"}, body
    if field is not None:
        assert body.get("field") == field or field in body["detail"], body
    if before is not None:
        assert snapshot(svc.base_url) == before, "a rejected request changed the ledger or an envelope"


GRAB = "/envelopes/1/grab"
CREATE = "/envelopes"
HOSTILE = [
    # (name, method, path, body bytes, extra headers, expected status(es), field named)
    ("malformed json", "POST", GRAB, b'{"user": "a", ', {}, 400, "body"),
    ("empty body", "POST", GRAB, b"", {}, 400, "body"),
    ("json array", "POST", GRAB, b'["u", "r"]', {}, 400, "body"),
    ("json null", "POST", GRAB, b"null", {}, 400, "body"),
    (
        "NaN literal",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":NaN,"count":1,"algorithm":"equal","mode":"pre_split"}',
        {},
        400,
        "body",
    ),
    ("invalid utf-8", "POST", GRAB, b'{"user": "\xff\xfe", "request_id": "r"}', {}, 400, "body"),
    (
        "deep nesting, arrays",
        "POST",
        GRAB,
        b'{"user": ' + b"[" * 1900 + b"]" * 1900 + b', "request_id": "r"}',
        {},
        (400, 422),
        None,
    ),
    ("deep nesting, objects", "POST", GRAB, b'{"a":' * 600 + b"1" + b"}" * 600, {}, (400, 422), None),
    ("unicode user (CJK)", "POST", GRAB, '{"user": "用户", "request_id": "r9"}'.encode(), {}, 422, "user"),
    ("unicode user (emoji)", "POST", GRAB, '{"user": "\U0001f9e7", "request_id": "r9"}'.encode(), {}, 422, "user"),
    ("user with NUL", "POST", GRAB, b'{"user": "u\\u0000x", "request_id": "r9"}', {}, 422, "user"),
    ("user with zero-width space", "POST", GRAB, '{"user": "u\u200bx", "request_id": "r9"}'.encode(), {}, 422, "user"),
    ("user path traversal", "POST", GRAB, b'{"user": "../../etc", "request_id": "r9"}', {}, 422, "user"),
    ("empty user", "POST", GRAB, b'{"user": "", "request_id": "r9"}', {}, 422, "user"),
    ("user not a string", "POST", GRAB, b'{"user": 12, "request_id": "r9"}', {}, 422, "user"),
    ("request_id too long", "POST", GRAB, b'{"user": "u7", "request_id": "' + b"r" * 65 + b'"}', {}, 422, "request_id"),
    (
        "request_id 4000 chars",
        "POST",
        GRAB,
        b'{"user": "u7", "request_id": "' + b"r" * 4000 + b'"}',
        {},
        422,
        "request_id",
    ),
    ("unknown field", "POST", GRAB, b'{"user": "u7", "request_id": "r", "amount_cents": 999}', {}, 422, "amount_cents"),
    (
        "huge integer",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":' + b"9" * 400 + b',"count":1,"algorithm":"equal","mode":"pre_split"}',
        {},
        422,
        "total_cents",
    ),
    (
        "digits beyond int parsing",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":' + b"9" * 4400 + b"}",
        {},
        (400, 413),
        None,
    ),
    (
        "1e400",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":1e400,"count":1,"algorithm":"equal","mode":"pre_split"}',
        {},
        (400, 422),
        None,
    ),
    (
        "float cents",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":10.5,"count":1,"algorithm":"equal","mode":"pre_split"}',
        {},
        422,
        "total_cents",
    ),
    (
        "negative cents",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":-100,"count":1,"algorithm":"equal","mode":"pre_split"}',
        {},
        422,
        "total_cents",
    ),
    (
        "count above limit",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":100000000,"count":100000000,"algorithm":"equal","mode":"pre_split"}',
        {},
        422,
        "count",
    ),
    (
        "bool count",
        "POST",
        CREATE,
        b'{"sender":"a","total_cents":100,"count":true,"algorithm":"equal","mode":"pre_split"}',
        {},
        422,
        "count",
    ),
    (
        "form-encoded body",
        "POST",
        GRAB,
        b"user=u7&request_id=r7",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "content-type",
    ),
    (
        "multipart body",
        "POST",
        GRAB,
        b"--x\r\nContent-Disposition: form-data; name=user\r\n\r\nu7\r\n--x--\r\n",
        {"content-type": "multipart/form-data; boundary=x"},
        415,
        "content-type",
    ),
    # a browser's cross-site "simple" request: JSON text sent as text/plain must not grab
    (
        "JSON as text/plain",
        "POST",
        GRAB,
        b'{"user": "u7", "request_id": "r7"}',
        {"content-type": "text/plain"},
        415,
        "content-type",
    ),
    (
        "oversized body",
        "POST",
        GRAB,
        b'{"user": "u7", "request_id": "r7", "pad": "' + b"x" * LIMIT + b'"}',
        {},
        413,
        "body",
    ),
    ("zero id", "POST", "/envelopes/0/grab", b'{"user": "u7", "request_id": "r7"}', {}, 404, "id"),
    ("id beyond int64", "GET", "/envelopes/99999999999999999999", None, {}, 404, "id"),
    ("id with NUL", "GET", "/envelopes/1%00", None, {}, 404, None),
    ("wrong method", "DELETE", "/envelopes/1", None, {}, 405, "method"),
]


@pytest.mark.parametrize("name,method,path,body,headers,status,field", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_request_is_rejected_and_changes_nothing(svc, name, method, path, body, headers, status, field):
    before = snapshot(svc.base_url)
    assert_rejected(svc, send(svc.base_url, method, path, body, headers), status, field, before)


def test_missing_content_type_is_refused(svc):
    before = snapshot(svc.base_url)
    r = HTTP.post(svc.base_url + GRAB, content=b'{"user": "u9", "request_id": "r9"}', headers={"content-type": ""})
    assert_rejected(svc, r, 415, "content-type", before)


def _read_answer(sock: socket.socket) -> bytes:
    """One whole HTTP answer: the head, then Content-Length bytes of body (the server may send them
    in two writes, and a loaded machine delivers them apart)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_announced_body_that_never_comes_is_cut_off(monkeypatch):
    """Headers with Content-Length: 100 and then silence: 408 after HONGBAO_BODY_TIMEOUT_S, and the
    connection does not stay open forever."""
    monkeypatch.setenv("HONGBAO_BODY_TIMEOUT_S", "1.5")
    with service_process("memory", seed=5) as proc:
        port = int(proc.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(
                b"POST /envelopes/1/grab HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n"
            )
            answer = _read_answer(s)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"body_timeout" in answer


def test_body_limit_boundary(svc):
    """A body of exactly MAX_BODY_BYTES is read; one byte more is 413, before any parsing."""
    base = svc.base_url
    head = b'{"user": "u8", "request_id": "r8"}'
    exact = head[:-1] + b" " * (LIMIT - len(head)) + b"}"
    assert len(exact) == LIMIT
    assert send(base, "POST", GRAB, exact).status_code == 200
    before = snapshot(base)
    assert_rejected(svc, send(base, "POST", GRAB, exact[:-1] + b" }"), 413, "body", before)


def test_chunked_oversized_body_without_content_length(svc):
    """No Content-Length: the service counts the chunks and stops at the limit (413)."""
    before = snapshot(svc.base_url)
    port = int(svc.base_url.rsplit(":", 1)[1])
    chunk = b"x" * 1024
    payload = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"POST /envelopes/1/grab HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + payload
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    assert snapshot(svc.base_url) == before


def test_utf16_body_is_rejected_or_read_as_its_utf8_twin(svc):
    """RFC 8259 asks for UTF-8; the service's stdlib fallback also reads UTF-16 with a BOM (RFC 7159).
    Either answer is acceptable as long as it is the same grab as the UTF-8 body would make."""
    base = svc.base_url
    r = send(
        base,
        "POST",
        GRAB,
        '{"user": "u16", "request_id": "r16"}'.encode("utf-16"),
        {"content-type": "application/json; charset=utf-16"},
    )
    if r.status_code == 400:
        assert r.json()["error"] == "invalid_json"
        return
    assert r.status_code == 200 and r.json()["user"] == "u16" and r.json()["request_id"] == "r16", r.text
    again = send(base, "POST", GRAB, b'{"user": "u16", "request_id": "r16"}').json()
    assert again["repeat"] is True and again["amount_cents"] == r.json()["amount_cents"]


def test_request_id_bound_is_64_characters(svc):
    base = svc.base_url
    body = b'{"user": "u64", "request_id": "' + b"r" * 64 + b'"}'
    assert send(base, "POST", "/envelopes/2/grab", body).status_code == 200
    assert v.NAME_MAX_CHARS == 64


def test_same_request_replayed_is_one_grab(svc):
    """A retried grab (same user, same request id) returns the first grab, marked repeat."""
    base = svc.base_url
    body = b'{"user": "u-replay", "request_id": "rr"}'
    first, second = (
        send(base, "POST", "/envelopes/2/grab", body).json(),
        send(base, "POST", "/envelopes/2/grab", body).json(),
    )
    assert second["repeat"] is True and first["repeat"] is False
    assert (first["amount_cents"], first["seq"]) == (second["amount_cents"], second["seq"])


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serve_refuses_non_loopback_bind(host):
    """``hongbao serve --host <non-loopback>`` exits 2 naming --allow-remote, binding nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "hongbao.harness.cli", "serve", "--host", host, "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "--allow-remote" in done.stderr and "loopback" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "host,allow,ok",
    [
        ("127.0.0.1", False, True),
        ("127.0.0.9", False, True),
        ("::1", False, True),
        ("localhost", False, True),
        ("0.0.0.0", False, False),
        ("::", False, False),
        ("192.168.1.10", False, False),
        ("10.0.0.1", False, False),
        ("example.com", False, False),
        ("0.0.0.0", True, True),
    ],
)
def test_loopback_rule(host, allow, ok):
    """The rule itself: loopback always; anything else only with the explicit flag."""
    args = argparse.Namespace(
        host=host, allow_remote=allow, port=8080, workers=1, store="memory", seed=0, keep_alive_s=75
    )
    assert (serve.check_args(args) is None) == ok
