"""One grabbing client of a storm, as lean as the measurement allows: its own keep-alive connection
(``KeepAliveHttp``), every grab through the adapter, recorded straight into the process's Recording
(integer-microsecond histograms, no dict built per grab) and reported to Locust with one ``request``
event, so Locust's own stats and CSV count every request. The closed model's Locust users and the
open model's pool (loadtests/storm/open_pool.py) both grab through it.

Clients as they are (shares in the scenario's [users] table): a **double tap** sends two grabs at
once with one request id (a second connection); a **retry** loses the first answer and resends the
same request id after ``retry_after_ms`` (the client's timeout); a **re-tap** grabs the same envelope
again with a new request id. Each behaviour's answers are kept for the audit: at most one grant per
user and envelope, and every repeat answer carries the first grant's amount.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import gevent

from hongbao.loadtests.adapters import BaseAdapter, Grab, Outcome, Reply
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
from hongbao.loadtests.storm import outcomes
from hongbao.loadtests.storm.pool import EnvelopePool
from hongbao.loadtests.storm.recording import Recording
from hongbao.loadtests.storm.scenario import Scenario

#: the ``context`` of the request events a grabber fires: it has recorded them itself already
RECORDED: dict = {"recorded": True}
#: a user grabs at most this many envelopes, then a new user takes its place (people grab a handful
#: of envelopes in a storm; it also keeps finding an untried envelope cheap)
ENVELOPES_PER_USER = 16
#: a grab's connection has no timeout: gevent would start and cancel a timer on every read, and a
#: grab the service never answers is ended by the storm's own end (the open pool's stop, Locust's
#: stop of its users), which is how long a real client's grab can hang in a storm anyway
GRAB_TIMEOUT_S = None


class TimedHttp:
    """``Http`` over a KeepAliveHttp that notes when an operation's first request went out and how
    many answer bytes came back (the grab's service time starts at that send)."""

    __slots__ = ("http", "sent_at", "length")

    def __init__(self, http: KeepAliveHttp) -> None:
        self.http, self.sent_at, self.length = http, 0.0, 0

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        if not self.sent_at:
            self.sent_at = time.time()
        reply = self.http.request(method, path, json=json, headers=headers)
        self.length += len(reply.body)
        return reply


class Grabber:
    """A user that grabs: ``grab(intended)`` picks an envelope it has not tried and grabs it (with
    the scenario's client behaviours); False when there was nothing to grab. A user who has tried
    ENVELOPES_PER_USER envelopes or every envelope in sight is replaced by a new one (``identity()``
    makes its id and RNG)."""

    def __init__(
        self,
        host: str,
        identity: Callable[[], tuple[str, random.Random]],
        *,
        scenario: Scenario,
        adapter: BaseAdapter,
        pool: EnvelopePool,
        recording: Recording,
        fire: Callable,
    ) -> None:
        self.identity, self.sc = identity, scenario
        self.user_id, self.rng = identity()
        self.adapter, self.pool, self.rec, self.fire = adapter, pool, recording, fire
        self.host = host
        self.timed = TimedHttp(KeepAliveHttp(host, timeout_s=GRAB_TIMEOUT_S))
        self.second: TimedHttp | None = None  # a double tap's other connection
        self.tried: set = set()
        sc = scenario
        self.cuts = (
            sc.double_tap_share,
            sc.double_tap_share + sc.retry_share,
            sc.double_tap_share + sc.retry_share + sc.re_tap_share,
        )

    def close(self) -> None:
        self.timed.http.close()
        if self.second is not None:
            self.second.http.close()

    def grab(self, intended: float | None = None) -> bool:
        now = time.time()
        if len(self.tried) >= ENVELOPES_PER_USER:
            self._new_user()
        envelope_id = self.pool.pick(self.rng, self.tried, self.sc.hot_share, now)
        if envelope_id is None and self.tried:
            # this user has tried every envelope it can see: it leaves, a new user takes its place
            self._new_user()
            envelope_id = self.pool.pick(self.rng, self.tried, self.sc.hot_share, now)
        if envelope_id is None:
            return False
        self.tried.add(envelope_id)
        request_id = f"{self.user_id}:{envelope_id}"
        roll = self.rng.random() if self.cuts[2] > 0 else 1.0
        if roll >= self.cuts[2]:
            self.once(envelope_id, request_id, intended, self.timed)
            return True
        if roll < self.cuts[0]:
            self.double_tap(envelope_id, request_id, intended)
            return True
        first = self.once(envelope_id, request_id, intended, self.timed)
        if roll < self.cuts[1]:
            behaviour = "retry"  # the answer is lost to this client: it waits, then resends
            gevent.sleep(self.sc.retry_after_ms / 1000.0)
            again = self.once(envelope_id, request_id, None, self.timed, first=False)
        else:
            behaviour = "re_tap"
            again = self.once(envelope_id, f"{request_id}:again", None, self.timed, first=False)
        self.rec.behaviour(behaviour, envelope_id, self.user_id, [_answer(first), _answer(again)])
        return True

    def _new_user(self) -> None:
        self.user_id, self.rng = self.identity()
        self.tried = set()

    def double_tap(self, envelope_id, request_id: str, intended: float | None) -> None:
        if self.second is None:
            self.second = TimedHttp(KeepAliveHttp(self.host, timeout_s=GRAB_TIMEOUT_S))
        other = gevent.spawn(self.once, envelope_id, request_id, intended, self.second, first=False)
        mine = self.once(envelope_id, request_id, intended, self.timed)
        other.join()
        theirs = other.value if other.successful() else Grab(Outcome.ERROR, detail="double tap failed")
        self.rec.behaviour("double_tap", envelope_id, self.user_id, [_answer(mine), _answer(theirs)])

    def once(self, envelope_id, request_id: str, intended: float | None, timed: TimedHttp, first: bool = True) -> Grab:
        """One grab through the adapter, recorded and reported to Locust under its outcome's name."""
        timed.sent_at, timed.length = 0.0, 0
        exc: BaseException | None = None
        try:
            g = self.adapter.grab(timed, envelope_id, self.user_id, request_id)
            if g.outcome is Outcome.GRANTED and type(g.amount_cents) is not int:
                g = Grab(Outcome.ERROR, detail=f"granted without an integer amount_cents ({g.amount_cents!r})")
        except Exception as e:  # noqa: BLE001 - an adapter that cannot read the answer: the grab failed
            g, exc = Grab(Outcome.ERROR, detail=f"{type(e).__name__}: {e}"), e
        done = time.time()
        sent = timed.sent_at or done
        start = intended if intended is not None and intended < sent else sent
        outcome = g.outcome
        if outcome is Outcome.GRANTED:
            name, grant = outcomes.GRAB, [str(envelope_id), self.user_id, g.amount_cents]
        elif outcome is Outcome.ERROR:
            name, grant = outcomes.GRAB, None
            exc = exc or RuntimeError(f"grab: {g.detail}"[:300])
        else:
            name, grant = outcomes.BY_OUTCOME[outcome], None
            if outcome is Outcome.SOLD_OUT or outcome is Outcome.EXPIRED:
                self.pool.close(envelope_id)
        latency_s = done - start
        self.rec.add_grab(name, done, latency_s * 1e6, (done - sent) * 1e6, self.user_id, exc is not None, grant, first)
        self.fire(
            request_type="POST",
            name=name,
            response_time=latency_s * 1000.0,
            response_length=timed.length,
            exception=exc,
            context=RECORDED,
        )
        return g


def _answer(g: Grab) -> list:
    return [g.outcome.value, g.amount_cents]
