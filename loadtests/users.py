"""Locust users of a grab storm: senders create envelopes, grabbers grab them.

User ids are derived in ``on_start`` from the worker index and a per-process counter, never at
import: the locustfile is imported once and then forked by ``--processes``, so an id made at
import time is the same in every worker (that collision once produced 238 repeat grabs).

Every request goes through the adapter (``$HONGBAO_ADAPTER``, module:Class; the reference
contract by default: hongbao.loadtests.adapters), which says what it came to. Grab outcomes get
their own Locust names so that the expected "no" of a storm is not a failure: ``grab`` (a new
grant), ``grab sold_out``, ``grab expired``, ``grab repeat`` (the answer to a client retry, which
users.retry_share sends on purpose: a correct service returns the first grant again, never a
second one). Anything else (an ERROR outcome, an adapter exception) is a failure of ``grab``.
"""
from __future__ import annotations

import itertools
import os
import random
import time

import gevent
from locust import between, constant, constant_throughput
from locust.contrib.fasthttp import FastHttpUser

from hongbao.loadtests.adapters import ADAPTER_ENV, Grab, NewEnvelope, Outcome, load_adapter
from hongbao.loadtests.adapters.locust_http import LocustHttp
from hongbao.loadtests.storm import outcomes
from hongbao.loadtests.storm.pool import EnvelopePool
from hongbao.loadtests.storm.scenario import Scenario, from_env

SCENARIO: Scenario = from_env()
_user_numbers = itertools.count(1)
POOL = EnvelopePool(SCENARIO.pool_size)
ADAPTER = load_adapter(os.environ.get(ADAPTER_ENV))   # the reference contract unless --adapter


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

    def new_envelope(self) -> NewEnvelope:
        if SCENARIO.cold_menu:
            total, count = self.rng.choice(SCENARIO.cold_menu)
        else:
            count = self.rng.randint(*SCENARIO.cold_count)
            lo, hi = SCENARIO.cold_total_cents
            total = self.rng.randint(max(lo, count), hi)
        return NewEnvelope(sender=self.user_id, total_cents=total, count=count, algorithm=SCENARIO.algorithm,
                           mode=SCENARIO.mode, expires_in_s=SCENARIO.expires_in_s)

    def create(self) -> None:
        spec, http = self.new_envelope(), LocustHttp(self.client, outcomes.CREATE)
        try:
            envelope_id = ADAPTER.create_envelope(http, spec)
        except Exception as e:  # noqa: BLE001 - whatever the adapter raised is the failure's message
            http.finish(outcomes.CREATE, failure=f"create envelope: {type(e).__name__}: {e}"[:300])
            return
        POOL.add_cold(envelope_id)
        http.finish(outcomes.CREATE, envelope=[str(envelope_id), spec.total_cents, spec.count, spec.min_cents])

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
        request_id = f"{self.user_id}:{envelope_id}"
        granted = self.grab_once(envelope_id, request_id).outcome is Outcome.GRANTED
        if granted and SCENARIO.retry_share and self.rng.random() < SCENARIO.retry_share:
            # a client retry (lost answer, impatient tap): same user, same request_id
            self.grab_once(envelope_id, request_id)

    def grab_once(self, envelope_id, request_id: str) -> Grab:
        """One grab through the adapter, reported to Locust under its outcome's name."""
        http = LocustHttp(self.client, outcomes.GRAB)
        try:
            g = ADAPTER.grab(http, envelope_id, self.user_id, request_id)
            if g.outcome is Outcome.GRANTED and type(g.amount_cents) is not int:
                g = Grab(Outcome.ERROR, detail=f"granted without an integer amount_cents ({g.amount_cents!r})")
        except Exception as e:  # noqa: BLE001 - an adapter that cannot read the answer: the grab failed
            g = Grab(Outcome.ERROR, detail=f"{type(e).__name__}: {e}")
        if g.outcome in (Outcome.SOLD_OUT, Outcome.EXPIRED):
            POOL.close(envelope_id)
        if g.outcome is Outcome.ERROR:
            http.finish(outcomes.GRAB, failure=f"grab: {g.detail}"[:300])
        else:
            grant = [str(envelope_id), g.amount_cents] if g.outcome is Outcome.GRANTED else None
            http.finish(outcomes.BY_OUTCOME[g.outcome], grant=grant)
        return g

    tasks = [grab]
