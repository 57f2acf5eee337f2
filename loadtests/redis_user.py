"""Redis-level storm: Locust users that run the store's own grab script (loadtests/service/lua/
grab.lua, same keys and arguments as RedisStore) straight against Redis, without HTTP, to measure
the store alone. Envelopes are created with RedisStore itself and grabs use its compare-and-set
plan (stores/online_plan.py), so the ledger and the audit are the same as behind the service.

    HONGBAO_REDIS_URL=redis://127.0.0.1:6379/0 HONGBAO_SCENARIO=seeds/storms/smoke.toml \
        locust -f loadtests/redis_user.py --headless
    hongbao storm --scenario seeds/storms/smoke.toml --store redis://127.0.0.1:6379/0 --redis-direct

Request type is "redis"; outcome names are the HTTP storm's (grab, grab sold_out, ...).
"""

from __future__ import annotations

import asyncio
import os
import time

import gevent
import gevent.lock
import redis
from locust import User, events

from hongbao.loadtests.service.stores import redis_store as rs
from hongbao.loadtests.service.stores.batcher import NO_WINDOW, call_args, parse_state, window_size
from hongbao.loadtests.service.stores.online_plan import OnlinePlan
from hongbao.loadtests.service.validation import parse_create
from hongbao.loadtests.shapes import ScenarioShape  # noqa: F401  (the one shape Locust will find)
from hongbao.loadtests.storm import outcomes, recorder
from hongbao.loadtests.users import POOL, SCENARIO, _identity, grabber_wait_time

REDIS_URL = os.environ.get("HONGBAO_REDIS_URL", "redis://127.0.0.1:6379/0")
_client: redis.Redis | None = None
_plans: dict[int, OnlinePlan] = {}  # on_grab envelope -> predicted shares (per process)
GRAB_SOURCE, _ = rs._script("grab")
_OUTCOMES = {"o": outcomes.GRAB, "r": outcomes.REPEAT, "s": outcomes.SOLD_OUT, "e": outcomes.EXPIRED}


def client() -> redis.Redis:
    global _client
    if _client is None:  # per process, after Locust's fork
        _client = redis.Redis.from_url(REDIS_URL, decode_responses=True, max_connections=512)
    return _client


_asyncio_lock = gevent.lock.BoundedSemaphore(1)  # one asyncio loop at a time per thread
_async: dict = {}  # this process's asyncio loop and RedisStore


def create_envelopes(bodies: list[dict]) -> list[int]:
    """Create envelopes with RedisStore.create itself, on a private asyncio loop kept for this
    process (greenlets share the thread, so only one of them may drive the loop at a time)."""
    with _asyncio_lock:
        if "store" not in _async:
            loop = asyncio.new_event_loop()
            store = rs.RedisStore(REDIS_URL, seed=SCENARIO.seed)
            loop.run_until_complete(store.open())
            _async.update(loop=loop, store=store)
        loop, store = _async["loop"], _async["store"]
        return [loop.run_until_complete(store.create(parse_create(_json(b))))["id"] for b in bodies]


def _json(body: dict) -> bytes:
    import json

    return json.dumps(body).encode()


def create_hot_redis(environment) -> list[int]:
    return create_envelopes(
        [
            {
                "sender": f"hot-sender-{i}",
                "total_cents": SCENARIO.hot_total_cents,
                "count": SCENARIO.hot_count,
                "algorithm": SCENARIO.algorithm,
                "mode": SCENARIO.mode,
                "expires_in_s": SCENARIO.expires_in_s,
            }
            for i in range(SCENARIO.hot_envelopes)
        ]
    )


recorder.HOT_FACTORY[0] = create_hot_redis


def _fire(name: str, start: float, user_id: str, exc: Exception | None = None) -> None:
    events.request.fire(
        request_type="redis",
        name=name,
        response_time=(time.perf_counter() - start) * 1000,
        response_length=0,
        exception=exc,
        context={"user_id": user_id},
    )


def _plan(envelope_id: int) -> OnlinePlan:
    plan = _plans.get(envelope_id)
    if plan is None:
        algorithm, m, mx, count = client().hmget(
            rs.keys(envelope_id)["meta"], "algorithm", "min_cents", "max_cents", "count"
        )
        assert m is not None and count is not None  # RedisStore.create writes both into the meta hash
        config = {
            "id": envelope_id,
            "algorithm": algorithm,
            "min_cents": int(m),
            "max_cents": int(mx) if mx else None,
            "count": int(count),
        }
        plan = _plans[envelope_id] = OnlinePlan(config, SCENARIO.seed)
    return plan


def grab_once(envelope_id: int, user: str, request_id: str) -> str:
    """One grab through grab.lua (a group of one), driven exactly as RedisStore's batches drive it
    (the on_grab compare-and-set window of stores/online_plan.py); returns the outcome's name."""
    c = client()
    for _ in range(rs.MAX_CAS_ATTEMPTS):
        plan = _plans.get(envelope_id)
        window = plan.window(window_size(1)) if plan else NO_WINDOW
        keys, args = call_args([(envelope_id, window, [(user, request_id)])])
        entry, state = c.eval(GRAB_SOURCE, len(keys), *keys, *args)
        tag = entry[0]
        if tag in _OUTCOMES:
            if tag in "se":
                _plans.pop(envelope_id, None)
            elif plan is not None:
                cents, _, seq = parse_state(state)
                plan.observe(seq, cents)
            return _OUTCOMES[tag]
        if tag == "x":
            cents, _, seq = parse_state(state)
            _plan(envelope_id).observe(seq, cents)
            continue
        return f"grab {entry}"
    raise RuntimeError(f"envelope {envelope_id}: compare-and-set kept losing")


class RedisSender(User):
    fixed_count = max(SCENARIO.senders, 1)
    abstract = SCENARIO.senders == 0

    def wait_time(self):
        return SCENARIO.sender_interval_s

    def on_start(self) -> None:
        self.user_id, self.rng = _identity(self, "s")

    def create(self) -> None:
        from hongbao.loadtests.users import cold_envelope

        spec = cold_envelope(self.user_id, self.rng)
        body = {
            "sender": spec.sender,
            "total_cents": spec.total_cents,
            "count": spec.count,
            "algorithm": spec.algorithm,
            "mode": spec.mode,
            "expires_in_s": spec.expires_in_s,
        }
        start = time.perf_counter()
        try:
            (eid,) = create_envelopes([body])
        except Exception as e:  # noqa: BLE001 - reported to Locust as a failure
            _fire(outcomes.CREATE, start, self.user_id, e)
            return
        POOL.add_cold(eid)
        _fire(outcomes.CREATE, start, self.user_id)

    tasks = [create]


class RedisGrabber(User):
    weight = 1
    wait_time = grabber_wait_time()

    def on_start(self) -> None:
        self.user_id, self.rng = _identity(self, "g")
        self.tried: set[int] = set()

    def grab(self) -> None:
        now = time.time()
        eid = POOL.pick(self.rng, self.tried, SCENARIO.hot_share, now)
        if eid is None:
            gevent.sleep(POOL.idle_s(now))
            return
        assert isinstance(eid, int)  # RedisStore's envelope ids: the pool holds only those here
        self.tried.add(eid)
        name = self.grab_one(eid)
        if name == outcomes.GRAB and SCENARIO.retry_share and self.rng.random() < SCENARIO.retry_share:
            self.grab_one(eid)  # a client retry: same user, same request_id

    def grab_one(self, eid: int) -> str | None:
        start = time.perf_counter()
        try:
            name = grab_once(eid, self.user_id, f"{self.user_id}:{eid}")
        except Exception as e:  # noqa: BLE001 - a Redis failure is a failed grab
            _fire(outcomes.GRAB, start, self.user_id, e)
            return None
        if name in (outcomes.SOLD_OUT, outcomes.EXPIRED):
            POOL.close(eid)
        _fire(name, start, self.user_id, None if name in outcomes.GRAB_NAMES else RuntimeError(name))
        return name

    tasks = [grab]
