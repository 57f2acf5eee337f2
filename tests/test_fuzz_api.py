"""Fuzz the grab API from its own /openapi.json with schemathesis.

The real ASGI app (loadtests.service.app) runs in-process on a memory store; schemathesis draws
schema-valid (positive) and schema-breaking (negative) requests for every operation. Checks:
schemathesis' own (no 5xx, status codes / content types / bodies conform to the schema, negative
data rejected, 405s name the allowed method) and ours: a rejected request (4xx) changes nothing —
the store's ledger and every envelope's state are compared before and after.

Each case starts from a fresh store holding four known envelopes (open, on_grab, sold out,
expired) and positive cases aim their path id at them, so grabs and refunds really happen.
Schema-valid but infeasible envelopes (e.g. total < count x min, which JSON Schema cannot say)
must be answered 422 naming a field, instead of schemathesis' positive_data_acceptance.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hongbao.loadtests.service import validation as v
from hongbao.loadtests.service.app import create_app
from hongbao.loadtests.service.stores.memory import MemoryStore
from tests.support.figures import report_figure

SEED = 8
MAX_EXAMPLES = 350  # per operation; x 7 operations, positive + negative
LOOP = asyncio.new_event_loop()
APP = create_app(MemoryStore(seed=SEED))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
CASES: Counter = Counter()
OUTCOMES: Counter = Counter()

# the four envelopes every case starts with: id -> (create body, grabs made before the case)
FIXTURE = {
    1: (
        {"sender": "boss", "total_cents": 1000, "count": 10, "algorithm": "double_mean", "mode": "pre_split"},
        ["u1", "u2"],
    ),
    2: (
        {
            "sender": "shop",
            "total_cents": 500,
            "count": 3,
            "algorithm": "beta",
            "mode": "on_grab",
            "min_cents": 2,
            "max_cents": 400,
        },
        ["u1"],
    ),
    3: ({"sender": "aunt", "total_cents": 7, "count": 1, "algorithm": "equal", "mode": "pre_split"}, ["u9"]),
    4: ({"sender": "uncle", "total_cents": 90, "count": 4, "algorithm": "naive", "mode": "on_grab"}, ["u1"]),
}
EXPIRED_ID = 4
ID_TARGETS = 5  # ids 1..4 exist, 5 does not


def run(coro):
    return LOOP.run_until_complete(coro)


def fresh_store() -> MemoryStore:
    """A memory store with the FIXTURE envelopes; envelope 4 already expired."""
    store = MemoryStore(seed=SEED)
    for envelope_id, (body, users) in FIXTURE.items():
        created = run(store.create(v.parse_create(orjson.dumps(body))))
        assert created["id"] == envelope_id
        for n, user in enumerate(users):
            run(store.grab(envelope_id, user, f"setup-{envelope_id}-{n}"))
    store._envelopes[EXPIRED_ID].meta["expires_at"] -= 2 * 86400  # test-only: expire it now
    return store


def snapshot(store: MemoryStore) -> bytes:
    """Everything a request could change: the ledger, each envelope's state, the next id."""
    state = {
        "ledger": run(store.ledger()),
        "envelopes": [run(store.get(i)) for i in sorted(store._envelopes)],
        "next_id": len(store._envelopes),
    }
    return orjson.dumps(state)


@pytest.fixture(scope="module", autouse=True)
def _figures(request):
    yield
    total = sum(CASES.values())
    if not total:
        return
    by_mode = Counter()
    for (_, mode), n in CASES.items():
        by_mode[mode] += n
    report_figure(
        request.config,
        f"API fuzz (schemathesis, in-process ASGI, memory store): {total} cases "
        f"({', '.join(f'{m} {n}' for m, n in sorted(by_mode.items()))}); "
        f"statuses {dict(sorted(OUTCOMES.items()))}",
    )


@pytest.mark.slow
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@SCHEMA.parametrize()
def test_api_fuzz(case):
    """No 5xx, responses conform, negative data rejected, a rejected request changes nothing."""
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    positive = mode == "positive"
    if positive and "id" in (case.path_parameters or {}):
        raw = case.path_parameters["id"]
        case.path_parameters["id"] = 1 + raw % ID_TARGETS if isinstance(raw, int) else raw
    store = APP.store = fresh_store()
    before = snapshot(store)
    response = case.call()
    CASES[(case.operation.label, mode)] += 1
    OUTCOMES[response.status_code] += 1
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    status = response.status_code
    assert status < 500, f"{case.operation.label}: {status} {response.text[:200]}"
    if 400 <= status < 500:
        body = response.json()
        assert set(body) >= {"error", "detail"}, body
        assert snapshot(store) == before, f"rejected {case.operation.label} ({status} {body}) changed state"
    if positive and case.operation.label == "POST /envelopes" and status != 201:
        body = response.json()
        assert status == 422 and body["error"] == "invalid_field", body
        assert body.get("field") in ("total_cents", "mode", "min_cents", "max_cents", "count"), body


# ----------------------------------------------------------------------------- Redis store, real server
# The same fuzzing against ``hongbao serve --store redis://...`` (a real redis-server and a real
# uvicorn process on 127.0.0.1): rejections go through the Lua scripts' refusal paths (sold out,
# expired, already refunded, not found), and "changes nothing" is checked on Redis itself: the
# key count, the id counter, the envelope index and a DUMP of every fixture envelope's keys.
REDIS_MAX_EXAMPLES = 300
REDIS_CASES: Counter = Counter()


@pytest.fixture(scope="module")
def redis_service():
    import time

    import httpx

    from tests.support.redis_server import redis_server
    from tests.support.service_proc import service_process

    with redis_server() as srv, service_process(srv.url, seed=SEED) as svc:
        for envelope_id, (body, users) in FIXTURE.items():
            body = {**body, "expires_in_s": 0.3} if envelope_id == EXPIRED_ID else body
            assert httpx.post(svc.base_url + "/envelopes", json=body).json()["id"] == envelope_id
            for n, user in enumerate(users):
                httpx.post(
                    f"{svc.base_url}/envelopes/{envelope_id}/grab", json={"user": user, "request_id": f"setup-{n}"}
                ).raise_for_status()
        time.sleep(0.4)  # envelope 4 is now expired
        yield srv, svc


@pytest.mark.redis
def test_api_fuzz_redis_store(redis_service, request):
    """No 5xx and no write to Redis on any rejected request, through the real Lua scripts."""
    from hypothesis import given
    from hypothesis import strategies as st

    from hongbao.loadtests.service.stores.redis_store import ID_KEY, INDEX_KEY, keys

    srv, svc = redis_service
    schema = schemathesis.openapi.from_url(svc.base_url + "/openapi.json")
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    client = srv.client(decode_responses=False)
    session = requests.Session()  # keep-alive: one connection for every case
    names = [k for i in FIXTURE for k in keys(i).values()]

    def redis_state() -> tuple:
        return client.dbsize(), client.get(ID_KEY), client.zcard(INDEX_KEY), [client.dump(n) for n in names]

    @settings(max_examples=REDIS_MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def fuzz(case):
        if case.meta.generation.mode.value == "positive" and isinstance((case.path_parameters or {}).get("id"), int):
            case.path_parameters["id"] = 1 + case.path_parameters["id"] % ID_TARGETS
        before = redis_state()
        response = case.call(base_url=svc.base_url, session=session)
        REDIS_CASES[response.status_code] += 1
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        assert response.status_code < 500, f"{case.operation.label}: {response.status_code} {response.text[:200]}"
        if 400 <= response.status_code < 500:
            assert redis_state() == before, f"rejected {case.operation.label} ({response.text[:200]}) wrote to Redis"

    try:
        fuzz()
    finally:
        client.close()
        session.close()
        report_figure(
            request.config,
            f"API fuzz (schemathesis, real `hongbao serve` + redis-server): "
            f"{sum(REDIS_CASES.values())} cases, "
            f"statuses {dict(sorted(REDIS_CASES.items()))}",
        )
