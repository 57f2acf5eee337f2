"""Locust users of a grab storm: senders create envelopes, grabbers grab them.

User ids are derived in ``on_start`` from the worker index and a per-process counter, never at
import: the locustfile is imported once and then forked by ``--processes``, so an id made at
import time is the same in every worker (that collision once produced 238 repeat grabs).

Grab outcomes get their own Locust names so that the expected "no" of a storm is not a failure:
``grab`` (a new grab, 200), ``grab sold_out`` (409), ``grab expired`` (410), ``grab repeat``
(200 with repeat=true: the answer to a client retry, which users.retry_share sends on purpose: a
correct service returns the first grab again, never a second one). Anything else (5xx, 404,
malformed body) is a failure of ``grab``.
"""
from __future__ import annotations

import itertools
import random
import time

import gevent
from locust import between, constant, constant_throughput
from locust.contrib.fasthttp import FastHttpUser

from hongbao.loadtests.storm import outcomes
from hongbao.loadtests.storm.pool import EnvelopePool
from hongbao.loadtests.storm.scenario import Scenario, from_env

SCENARIO: Scenario = from_env()
_user_numbers = itertools.count(1)
POOL = EnvelopePool(SCENARIO.pool_size)


def _identity(user, role: str) -> tuple[str, random.Random]:
    runner = user.environment.runner
    index = getattr(runner, "worker_index", 0)
    name = f"w{index}-{role}{next(_user_numbers)}"
    # the run tag keeps ids unique across storms against one long-lived store; the RNG stream
    # depends only on the seed and the per-run name, so reruns make the same choices
    return f"{POOL.run_tag}-{name}", random.Random(f"{SCENARIO.seed}:{name}")


def grabber_wait_time():
    """Closed model: think time between grabs; open model: each user paced to a fixed rate."""
    if SCENARIO.model == "open":
        return constant_throughput(SCENARIO.grabs_per_user_per_s)
    lo, hi = SCENARIO.think_time_s
    return constant(lo) if lo == hi else between(lo, hi)


class SenderUser(FastHttpUser):
    """Creates cold envelopes at a steady pace for this worker's grabbers."""

    abstract = True          # the locustfile makes it concrete only when the scenario has senders
    fixed_count = max(SCENARIO.senders, 1)

    def wait_time(self):
        return SCENARIO.sender_interval_s

    def on_start(self) -> None:
        self.user_id, self.rng = _identity(self, "s")

    def envelope_body(self) -> dict:
        if SCENARIO.cold_menu:
            total, count = self.rng.choice(SCENARIO.cold_menu)
        else:
            count = self.rng.randint(*SCENARIO.cold_count)
            lo, hi = SCENARIO.cold_total_cents
            total = self.rng.randint(max(lo, count), hi)
        return {"sender": self.user_id, "total_cents": total,
                "count": count, "algorithm": SCENARIO.algorithm, "mode": SCENARIO.mode,
                "expires_in_s": SCENARIO.expires_in_s}

    def create(self) -> None:
        with self.client.post("/envelopes", json=self.envelope_body(), name=outcomes.CREATE,
                              catch_response=True) as r:
            if r.status_code == 201:
                POOL.add_cold(r.json()["id"])
                r.success()
            else:
                r.failure(f"create envelope: HTTP {r.status_code} {str(r.text)[:200]}")

    tasks = [create]


class GrabberUser(FastHttpUser):
    """Grabs envelopes it has not tried yet: hot ones after T0, else recent cold ones."""

    weight = 1
    wait_time = grabber_wait_time()

    def on_start(self) -> None:
        self.user_id, self.rng = _identity(self, "g")
        self.tried: set[int] = set()

    def context(self) -> dict:
        return {"user_id": getattr(self, "user_id", None)}

    def grab(self) -> None:
        now = time.time()
        envelope_id = POOL.pick(self.rng, self.tried, SCENARIO.hot_share, now)
        if envelope_id is None:
            gevent.sleep(POOL.idle_s(now))
            return
        self.tried.add(envelope_id)
        body = {"user": self.user_id, "request_id": f"{self.user_id}:{envelope_id}"}
        with self.client.post(f"/envelopes/{envelope_id}/grab", json=body, name=outcomes.GRAB,
                              catch_response=True) as r:
            record_outcome(r, envelope_id)
            granted = r.status_code == 200
        if granted and SCENARIO.retry_share and self.rng.random() < SCENARIO.retry_share:
            # a client retry (lost answer, impatient tap): same user, same request_id
            with self.client.post(f"/envelopes/{envelope_id}/grab", json=body, name=outcomes.GRAB,
                                  catch_response=True) as r:
                record_outcome(r, envelope_id)

    tasks = [grab]


def record_outcome(r, envelope_id: int) -> None:
    """Name the outcome of one grab response (see the module docstring)."""
    status = r.status_code
    try:
        body = r.json() if status in (200, 409, 410) else {}
    except Exception:  # noqa: BLE001 - any unreadable body is a failure of the service
        r.failure(f"grab: HTTP {status} with a body that is not JSON: {str(r.text)[:200]}")
        return
    if status == 200:
        if body.get("repeat"):
            r.request_meta["name"] = outcomes.REPEAT
        r.success()
    elif (status, body.get("error")) in ((409, "sold_out"), (410, "expired")):
        POOL.close(envelope_id)
        r.request_meta["name"] = outcomes.SOLD_OUT if status == 409 else outcomes.EXPIRED
        r.success()
    else:
        r.failure(f"grab: HTTP {status} {str(r.text)[:200]}")
