"""Locust users of a grab storm: senders create envelopes, grabbers grab them.

Both are lean: a plain Locust ``User`` with its own keep-alive connection (``KeepAliveHttp``), every
request through the adapter (``$HONGBAO_ADAPTER``, module:Class; the reference contract by default),
recorded straight into the process's Recording and reported to Locust with one ``request`` event
(loadtests/storm/grabber.py). Grab outcomes get their own Locust names so that the expected "no" of
a storm is not a failure: ``grab`` (a new grant), ``grab sold_out``, ``grab expired``, ``grab
repeat`` (the answer to a client's double tap, retry or re-tap: a correct service returns the first
grant again, never a second one). Anything else is a failure of ``grab``.

Closed model: ``GrabberUser`` grabs in a loop, ``think_time_s`` apart, as many users as the shape
says. Open model: the shape runs only the senders and each process runs an OpenPool of grabbers
fed by the arrival schedule (``start_open_pool``, called by recorder.py once the storm's start time
and this process's share are known).

User ids are derived from the worker index and a per-process counter, never at import: the
locustfile is imported once and then forked by ``--processes``, so an id made at import time is the
same in every worker.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import zlib

import gevent
from locust import User, between, constant

from hongbao.loadtests.adapters import ADAPTER_ENV, NewEnvelope, load_adapter
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
from hongbao.loadtests.storm import outcomes
from hongbao.loadtests.storm.grabber import RECORDED, Grabber, TimedHttp
from hongbao.loadtests.storm.open_pool import OpenPool
from hongbao.loadtests.storm.pool import EnvelopePool
from hongbao.loadtests.storm.recording import Recording
from hongbao.loadtests.storm.scenario import Scenario, arrival_plan, from_env

SCENARIO: Scenario = from_env()
_user_numbers = itertools.count(1)
POOL = EnvelopePool(SCENARIO.pool_size)
ADAPTER = load_adapter(os.environ.get(ADAPTER_ENV))  # the reference contract unless --adapter
RECORDING = Recording()  # this process's; recorder.py ships and merges it


def identity(worker_index: int, role: str) -> tuple[str, random.Random]:
    """A user id unique in the storm and its RNG (which depends only on the seed and the name)."""
    name = f"w{worker_index}-{role}{next(_user_numbers)}"
    # the run tag keeps ids unique across storms against one long-lived store; an integer seed
    # (not a string, which Random hashes with SHA-512) because users are made all the time
    return f"{POOL.run_tag}-{name}", random.Random(SCENARIO.seed << 32 | zlib.crc32(name.encode()))


def _identity(user, role: str) -> tuple[str, random.Random]:
    return identity(getattr(user.environment.runner, "worker_index", 0), role)


def cold_envelope(sender: str, rng: random.Random) -> NewEnvelope:
    """The next cold envelope a sender makes: the scenario's menu or ranges, drawn from ``rng``."""
    if SCENARIO.cold_menu:
        total, count = rng.choice(SCENARIO.cold_menu)
    else:
        count = rng.randint(*SCENARIO.cold_count)
        lo, hi = SCENARIO.cold_total_cents
        total = rng.randint(max(lo, count), hi)
    return NewEnvelope(
        sender=sender,
        total_cents=total,
        count=count,
        algorithm=SCENARIO.algorithm,
        mode=SCENARIO.mode,
        expires_in_s=SCENARIO.expires_in_s,
    )


def grabber_wait_time():
    """Closed model: think time between grabs."""
    lo, hi = SCENARIO.think_time_s
    return constant(lo) if lo == hi else between(lo, hi)


def new_grabber(environment, worker_index: int, host: str | None = None) -> Grabber:
    return Grabber(
        host or environment.host,
        lambda: identity(worker_index, "g"),
        scenario=SCENARIO,
        adapter=ADAPTER,
        pool=POOL,
        recording=RECORDING,
        fire=environment.events.request.fire,
    )


def start_open_pool(environment, origin: float, index: int, count: int, host: str | None = None) -> OpenPool:
    """This process's share (``index`` of ``count``) of the open model's arrivals from ``origin``,
    grabbing from ``host`` (a worker may learn the host from the master before Locust tells it)."""
    worker_index = getattr(environment.runner, "worker_index", 0)
    pool = OpenPool(
        arrival_plan(SCENARIO),
        origin,
        index,
        count,
        tolerance_s=SCENARIO.tolerance_ms / 1000.0,
        tick_s=SCENARIO.tick_ms / 1000.0,
        pre_allocated=SCENARIO.pre_allocated_users,
        max_users=SCENARIO.max_users,
        recording=RECORDING,
        make_grabber=lambda _: new_grabber(environment, worker_index, host),
    )
    pool.start()
    return pool


class SenderUser(User):
    """Creates cold envelopes at a steady pace for this worker's grabbers."""

    abstract = True  # the locustfile makes it concrete only when the scenario has senders
    fixed_count = max(SCENARIO.senders, 1)

    def wait_time(self):
        return SCENARIO.sender_interval_s

    def on_start(self) -> None:
        self.user_id, self.rng = _identity(self, "s")
        assert self.host is not None  # the storm always gives Locust --host
        self.timed = TimedHttp(KeepAliveHttp(self.host))

    def on_stop(self) -> None:
        self.timed.http.close()

    def new_envelope(self) -> NewEnvelope:
        return cold_envelope(self.user_id, self.rng)

    def create(self) -> None:
        spec, timed = self.new_envelope(), self.timed
        timed.sent_at, timed.length = 0.0, 0
        exc = None
        try:
            envelope_id = ADAPTER.create_envelope(timed, spec)
        except Exception as e:  # noqa: BLE001 - whatever the adapter raised is the failure's message
            exc = RuntimeError(f"create envelope: {type(e).__name__}: {e}"[:300])
        if exc is None:
            POOL.add_cold(envelope_id)
            RECORDING.add_envelope(envelope_id, spec.total_cents, spec.count, spec.min_cents)
        if not timed.sent_at:
            return  # the adapter made no request (envelopes prepared beforehand): nothing to time
        ms = (time.time() - timed.sent_at) * 1000.0
        RECORDING.add(outcomes.CREATE, ms, exc is not None, self.user_id)
        self.environment.events.request.fire(
            request_type="POST",
            name=outcomes.CREATE,
            response_time=ms,
            response_length=timed.length,
            exception=exc,
            context=RECORDED,
        )

    tasks = [create]


class GrabberUser(User):
    """Closed model: grabs envelopes it has not tried yet (hot ones after T0, else recent cold
    ones), one after another, ``think_time_s`` apart."""

    weight = 1
    wait_time = grabber_wait_time()

    def on_start(self) -> None:
        self.grabber = new_grabber(self.environment, getattr(self.environment.runner, "worker_index", 0))

    def on_stop(self) -> None:
        self.grabber.close()

    def grab(self) -> None:
        if not self.grabber.grab():
            gevent.sleep(POOL.idle_s(time.time()))

    tasks = [grab]
