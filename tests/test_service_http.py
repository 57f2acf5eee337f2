"""The HTTP contract against a real ``hongbao serve`` subprocess, on the memory and Redis stores:
responses match /openapi.json, concurrent grabs over HTTP keep every invariant, repeats are
idempotent, and the documented status codes and error bodies come back."""

from __future__ import annotations

import time

import httpx
import jsonschema_rs  # installed with schemathesis
import pytest

from tests.support.grab_checks import check_ledger, check_outcomes, check_shares, race_over_http, requests_for
from tests.support.redis_server import redis_server
from tests.support.service_proc import service_process

SEED = 21
ROUTES = {
    ("post", "/envelopes"),
    ("get", "/envelopes/{id}"),
    ("post", "/envelopes/{id}/grab"),
    ("post", "/envelopes/{id}/refund"),
    ("get", "/ledger"),
    ("get", "/healthz"),
    ("get", "/openapi.json"),
}


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def service(request):
    if request.param == "memory":
        with service_process("memory", seed=SEED) as svc:
            yield svc
    else:
        with redis_server() as srv, service_process(srv.url, seed=SEED) as svc:
            yield svc


@pytest.fixture(scope="module")
def openapi(service) -> dict:
    return httpx.get(service.base_url + "/openapi.json").json()


def conforms(openapi: dict, schema: str, body: dict) -> None:
    jsonschema_rs.validate({"$ref": f"#/components/schemas/{schema}", "components": openapi["components"]}, body)


def create(base: str, **fields) -> dict:
    body = {
        "sender": "boss",
        "total_cents": 10_000,
        "count": 10,
        "algorithm": "double_mean",
        "mode": "pre_split",
        **fields,
    }
    r = httpx.post(base + "/envelopes", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_openapi_lists_every_route(service, openapi):
    listed = {(m, p) for p, ops in openapi["paths"].items() for m in ops}
    assert listed == ROUTES
    env = create(service.base_url)
    for method, path in sorted(ROUTES):  # each listed route is really served
        url = service.base_url + path.replace("{id}", str(env["id"]))
        body = {"user": "probe", "request_id": "p1"} if path.endswith("grab") else None
        r = httpx.request(method.upper(), url, json=body)
        assert not (r.status_code == 404 and r.json().get("field") == "path"), f"{method} {path} not served"
    for name in ("CreateEnvelope", "GrabRequest"):
        assert openapi["components"]["schemas"][name]["additionalProperties"] is False


def test_health_and_contract_shapes(service, openapi):
    base = service.base_url
    health = httpx.get(base + "/healthz").json()
    assert health["ok"] is True and health["store"] in ("memory", "redis")
    env = create(base, total_cents=1_001, count=7, algorithm="equal", max_cents=200)
    conforms(openapi, "Envelope", env)
    assert env["remaining_cents"] == 1_001 and env["remaining_count"] == 7 and env["expires_at"] > env["created_at"]
    url = f"{base}/envelopes/{env['id']}"
    grab = httpx.post(url + "/grab", json={"user": "alice", "request_id": "a-1"})
    assert grab.status_code == 200
    conforms(openapi, "Grab", grab.json())
    assert grab.json()["seq"] == 0 and grab.json()["repeat"] is False
    again = httpx.post(url + "/grab", json={"user": "alice", "request_id": "a-2"}).json()
    assert again == {**grab.json(), "repeat": True}
    state = httpx.get(url).json()
    conforms(openapi, "EnvelopeState", state)
    assert state["grabs"][0]["user"] == "alice" and state["expired"] is False
    assert state["remaining_cents"] == 1_001 - grab.json()["amount_cents"]
    ledger = httpx.get(base + "/ledger").json()
    conforms(openapi, "Ledger", ledger)
    check_ledger(ledger, env["id"])
    refund = httpx.post(url + "/refund")
    assert refund.status_code == 409 and refund.json()["error"] == "not_expired"
    page = httpx.get(base + "/ledger", params={"after_id": env["id"] - 1, "limit": 1}).json()
    assert [e["id"] for e in page["envelopes"]] == [env["id"]]


def test_sold_out_expired_and_refund(service):
    base = service.base_url
    env = create(base, total_cents=300, count=2)
    url = f"{base}/envelopes/{env['id']}"
    for user in ("a", "b"):
        assert httpx.post(url + "/grab", json={"user": user, "request_id": user}).status_code == 200
    sold = httpx.post(url + "/grab", json={"user": "c", "request_id": "c"})
    assert sold.status_code == 409 and sold.json()["error"] == "sold_out"
    late = create(base, total_cents=500, count=5, expires_in_s=2.0)  # long enough for a grab on a busy machine
    late_url = f"{base}/envelopes/{late['id']}"
    assert httpx.post(late_url + "/grab", json={"user": "a", "request_id": "a"}).status_code == 200
    deadline = time.monotonic() + 10
    while not httpx.get(late_url).json()["expired"]:  # the service's own clock says when
        assert time.monotonic() < deadline, "the envelope never expired"
        time.sleep(0.05)
    expired = httpx.post(late_url + "/grab", json={"user": "z", "request_id": "z"})
    assert expired.status_code == 410 and expired.json()["error"] == "expired"
    refund = httpx.post(late_url + "/refund", json={"request_id": "give-back"})
    assert refund.status_code == 200
    state = httpx.get(late_url).json()
    assert refund.json()["refunded_cents"] == state["refunded_cents"] == 500 - state["grabs"][0]["amount_cents"]
    assert state["expired"] is True and state["remaining_cents"] == 0
    twice = httpx.post(late_url + "/refund")
    assert twice.status_code == 409 and twice.json()["error"] == "already_refunded"
    entries = [e for e in httpx.get(base + "/ledger").json()["entries"] if e["envelope_id"] == late["id"]]
    assert [e["kind"] for e in entries] == ["grab", "refund"] and entries[-1]["request_id"] == "give-back"


@pytest.mark.parametrize("mode,algorithm", [("pre_split", "line_cut"), ("on_grab", "naive")])
def test_concurrent_grabs_over_http(service, mode, algorithm):
    """Hundreds of grabs at once on one hot envelope over real keep-alive connections."""
    env = create(service.base_url, total_cents=123_457, count=150, algorithm=algorithm, mode=mode)
    url = f"{service.base_url}/envelopes/{env['id']}/grab"
    requests = requests_for(220, seed=2)

    results = race_over_http(url, requests)
    firsts = check_outcomes(results, requests, count=150)
    assert len(firsts) == 150
    check_shares(firsts, env, SEED)
    row = check_ledger(httpx.get(service.base_url + "/ledger").json(), env["id"])
    assert row["remaining_count"] == 0 and row["remaining_cents"] == 0


def test_startup_freezes_the_heap_so_full_collections_skip_it():
    """After the lifespan start-up, the objects alive then (imports, warmed kernels) are frozen:
    a full gc.collect() walks only what requests create, instead of every start-up object while the
    event loop waits."""
    import asyncio
    import gc

    from hongbao.loadtests.service.app import create_app
    from hongbao.loadtests.service.stores.memory import MemoryStore

    async def start_and_stop() -> list[str]:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive():
            return next(messages)

        async def send(message):
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                sent.append(f"frozen={gc.get_freeze_count()}")

        await create_app(MemoryStore(seed=1))({"type": "lifespan"}, receive, send)
        return sent

    gc.unfreeze()
    try:
        sent = asyncio.run(start_and_stop())
    finally:
        gc.unfreeze()
    assert sent[0] == "lifespan.startup.complete" and sent[-1] == "lifespan.shutdown.complete"
    assert int(sent[1].split("=")[1]) > 10_000  # numpy, Numba and the kernels at least
