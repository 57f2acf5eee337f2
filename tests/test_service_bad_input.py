"""Bad input, case by case, against a real service on both stores: each answer is the documented
4xx with {"error", "detail"} naming the field, never a 5xx, and nothing is written (the full
ledger and the target envelope are unchanged)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.support.redis_server import redis_server
from tests.support.service_proc import service_process

GOOD = {"sender": "boss", "total_cents": 1_000, "count": 10, "algorithm": "double_mean", "mode": "pre_split"}


def body(**changes) -> bytes:
    """GOOD with fields changed (``...`` drops one)."""
    return orjson.dumps({k: v for k, v in {**GOOD, **changes}.items() if v is not ...})


# (method, path, raw body, status, error code, field named)
CREATE = [
    (b"{", 400, "invalid_json", "body"),
    (b"", 400, "invalid_json", "body"),
    (b"[1, 2]", 400, "invalid_json", "body"),
    (b"null", 400, "invalid_json", "body"),
    (b'{"sender": "boss", "total_cents": NaN}', 400, "invalid_json", "body"),
    (body(sender=...), 422, "missing_field", "sender"),
    (body(count=...), 422, "missing_field", "count"),
    (body(colour="red"), 422, "unknown_field", "colour"),
    (body(total_cents="1000"), 422, "invalid_field", "total_cents"),
    (body(total_cents=1000.0), 422, "invalid_field", "total_cents"),
    (body(total_cents=True), 422, "invalid_field", "total_cents"),
    (body(total_cents=0), 422, "invalid_field", "total_cents"),
    (body(total_cents=-5), 422, "invalid_field", "total_cents"),
    (body(total_cents=10**12 + 1), 422, "invalid_field", "total_cents"),
    (
        body(total_cents=0).replace(b'"total_cents":0', b'"total_cents":' + b"9" * 30),
        422,
        "invalid_field",
        "total_cents",
    ),
    (body(count=0), 422, "invalid_field", "count"),
    (body(count=100_001), 422, "invalid_field", "count"),
    (body(count="10"), 422, "invalid_field", "count"),
    (body(total_cents=5, count=10), 422, "invalid_field", "total_cents"),
    (body(min_cents=200), 422, "invalid_field", "total_cents"),
    (body(min_cents=-1), 422, "invalid_field", "min_cents"),
    (body(max_cents=0), 422, "invalid_field", "max_cents"),
    (body(min_cents=50, max_cents=40), 422, "invalid_field", "max_cents"),
    (body(max_cents=50), 422, "invalid_field", "total_cents"),
    (body(algorithm="lucky"), 422, "invalid_field", "algorithm"),
    (body(algorithm=3), 422, "invalid_field", "algorithm"),
    (body(mode="later"), 422, "invalid_field", "mode"),
    (body(mode=None), 422, "invalid_field", "mode"),
    (body(algorithm="line_cut", mode="on_grab"), 422, "invalid_field", "mode"),
    (body(expires_in_s=0), 422, "invalid_field", "expires_in_s"),
    (body(expires_in_s=-1), 422, "invalid_field", "expires_in_s"),
    (body(expires_in_s="60"), 422, "invalid_field", "expires_in_s"),
    (body(expires_in_s=10**9), 422, "invalid_field", "expires_in_s"),
    (body(sender=""), 422, "invalid_field", "sender"),
    (body(sender="two words"), 422, "invalid_field", "sender"),
    (body(sender="x" * 65), 422, "invalid_field", "sender"),
    (body(sender=5), 422, "invalid_field", "sender"),
    (orjson.dumps({**GOOD, "pad": "x" * 5000}), 413, "body_too_large", "body"),
]
GRAB = [
    (b'{"user": "u1"', 400, "invalid_json", "body"),
    (b'{"user": "u1"}', 422, "missing_field", "request_id"),
    (b'{"request_id": "r1"}', 422, "missing_field", "user"),
    (b'{"user": "u1", "request_id": 7}', 422, "invalid_field", "request_id"),
    (b'{"user": "", "request_id": "r1"}', 422, "invalid_field", "user"),
    (b'{"user": "u/1", "request_id": "r1"}', 422, "invalid_field", "user"),
    (orjson.dumps({"user": "u" * 65, "request_id": "r1"}), 422, "invalid_field", "user"),
    (b'{"user": "u1", "request_id": "r1", "amount_cents": 999}', 422, "unknown_field", "amount_cents"),
    (orjson.dumps({"user": "u1", "request_id": "r" * 5000}), 413, "body_too_large", "body"),
]
CASES = (
    [("POST", "/envelopes", raw, *rest) for raw, *rest in CREATE]
    + [("POST", "/envelopes/{id}/grab", raw, *rest) for raw, *rest in GRAB]
    + [
        ("POST", "/envelopes/999999/grab", b'{"user": "u1", "request_id": "r1"}', 404, "not_found", "id"),
        ("POST", "/envelopes/0/grab", b'{"user": "u1", "request_id": "r1"}', 404, "not_found", "id"),
        ("POST", "/envelopes/abc/grab", b'{"user": "u1", "request_id": "r1"}', 404, "not_found", "id"),
        ("POST", f"/envelopes/{2**64}/grab", b'{"user": "u1", "request_id": "r1"}', 404, "not_found", "id"),
        ("GET", "/envelopes/999999", b"", 404, "not_found", "id"),
        ("POST", "/envelopes/{id}/refund", b'{"request_id": "r1", "to": "me"}', 422, "unknown_field", "to"),
        ("POST", "/envelopes/{id}/refund", b'{"request_id": "bad id"}', 422, "invalid_field", "request_id"),
        ("POST", "/envelopes/{id}/refund", b"", 409, "not_expired", None),
        ("POST", "/envelopes/999999/refund", b"", 404, "not_found", "id"),
        ("GET", "/ledger?limit=0", b"", 422, "invalid_field", "limit"),
        ("GET", "/ledger?after_id=-1", b"", 422, "invalid_field", "after_id"),
        ("GET", "/ledger?page=2", b"", 422, "unknown_field", "page"),
        ("GET", "/envelopes", b"", 405, "method_not_allowed", "method"),
        ("DELETE", "/envelopes/{id}", b"", 405, "method_not_allowed", "method"),
        ("POST", "/admin/reset", b"", 404, "not_found", "path"),
    ]
)


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def target(request):
    """(client on a fresh service, id of an envelope with one grab)."""

    def prepare(svc):
        client = httpx.Client(base_url=svc.base_url, headers={"content-type": "application/json"})
        env = client.post("/envelopes", content=body()).json()
        client.post(f"/envelopes/{env['id']}/grab", json={"user": "first", "request_id": "f1"})
        return client, env["id"]

    if request.param == "memory":
        with service_process("memory") as svc:
            client, envelope_id = prepare(svc)
            yield client, envelope_id
            client.close()
    else:
        with redis_server() as srv, service_process(srv.url) as svc:
            client, envelope_id = prepare(svc)
            yield client, envelope_id
            client.close()


def _snapshot(client: httpx.Client, envelope_id: int) -> tuple:
    return client.get("/ledger").json(), client.get(f"/envelopes/{envelope_id}").json()


@pytest.mark.parametrize(
    "method,path,raw,status,code,field", CASES, ids=[f"{c[0]} {c[1]} {c[4]}:{c[5]}#{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_is_rejected_and_changes_nothing(target, method, path, raw, status, code, field):
    client, envelope_id = target
    before = _snapshot(client, envelope_id)
    r = client.request(
        method, path.replace("{id}", str(envelope_id)), content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["error"] == code, answer
    assert answer["detail"] and isinstance(answer["detail"], str)
    if field is not None:
        assert answer["field"] == field, answer
        assert field in answer["detail"] or field in ("body", "id", "path", "method"), answer
    assert _snapshot(client, envelope_id) == before, "a rejected request changed state"
