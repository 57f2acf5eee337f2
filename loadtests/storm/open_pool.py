"""The open model in one Locust process: grabs start on the arrival plan's schedule
(loadtests/storm/arrivals.py), never waiting for answers.

One dispatcher greenlet walks this process's share of the arrivals. It sleeps until the next one is
due, puts every arrival due by then in a backlog (oldest first) and wakes a free grabber of a bounded
pool for each one no grabber is already coming for; a grabber takes the oldest due arrival, grabs,
and takes the next before it waits again. When the share is dense (at least ``BATCH_FROM`` grabs per
``tick_ms``) the dispatcher wakes at most once per tick: the grabs due within the tick go out in one
turn of the event loop and their answers come back together, which is what keeps a generator at a
high rate from spending more CPU waking up than grabbing (a sparser share is dispatched grab by
grab, on time). Latency is measured from each grab's intended start and the generator's own
lateness (intended start to send) is recorded beside it, so a tick's delay is in the figures, never
hidden.

An arrival more than ``tolerance_ms`` past its intended start is not sent: it is counted as dropped
in the second it was meant for. When every grabber is waiting for an answer, the pool grows by one
grabber per due arrival, up to this process's share of ``max_users``.

The storm's arrivals are dealt out over the processes by index (arrival k goes to the process with
``k % count == index``), so the shares add up to the scenario's rate.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import gevent
from gevent.hub import Waiter, get_hub

from hongbao.loadtests.storm.arrivals import ArrivalPlan
from hongbao.loadtests.storm.grabber import Grabber
from hongbao.loadtests.storm.recording import Recording

#: the dispatcher batches by the tick once this many of the process's grabs fall in one tick;
#: sparser than that it wakes for each grab (the generator has CPU to spare, so timing stays exact)
BATCH_FROM = 4
#: how often the dispatcher looks again at the rate it is dispatching
RECHECK_S = 0.05


class OpenPool:
    def __init__(
        self,
        plan: ArrivalPlan,
        origin: float,
        index: int,
        count: int,
        *,
        tolerance_s: float,
        tick_s: float = 0.001,
        pre_allocated: int,
        max_users: int,
        recording: Recording,
        make_grabber: Callable[[int], Grabber],
    ) -> None:
        self.plan, self.origin, self.index, self.count = plan, origin, index, count
        self.tolerance_s, self.tick_s = tolerance_s, tick_s
        self.rec, self.make_grabber = recording, make_grabber
        self.pre = max(1, math.ceil(pre_allocated / count))
        self.max = max(self.pre, math.ceil(max_users / count))
        self.grabbers: list[gevent.Greenlet] = []
        self.free: deque[Waiter] = deque()  # grabbers waiting for an arrival
        self.backlog: deque[float] = deque()  # due arrivals no grabber was free to take
        self.next_k = index  # the next arrival of this share not yet dispatched
        self.coming = 0  # grabbers woken or started that have not yet looked at the backlog
        self.stopping = self.finished = False
        self.dispatcher: gevent.Greenlet | None = None
        self._loop = get_hub().loop

    def start(self) -> None:
        for _ in range(self.pre):
            self._spawn()
        self.dispatcher = gevent.spawn(self._dispatch)

    def _spawn(self) -> None:
        self.coming += 1
        self.grabbers.append(gevent.spawn(self._work, self.make_grabber(len(self.grabbers))))
        self.rec.pool_size(len(self.grabbers))

    def _dispatch(self) -> None:
        plan, origin, step, tolerance, tick = self.plan, self.origin, self.count, self.tolerance_s, self.tick_s
        free, backlog, rec, run_callback = self.free, self.backlog, self.rec, self._loop.run_callback
        t = plan.time_of(self.next_k)
        woke = recheck = 0.0
        dense = False
        while t is not None and not self.stopping:
            now = time.time()
            if now >= recheck:  # are this share's grabs dense enough to batch by the tick?
                dense = tick > 0 and plan.rate_at(t) / step * tick >= BATCH_FROM
                recheck = now + RECHECK_S
            wake = max(origin + t, woke + tick) if dense else origin + t
            if wake > now:
                gevent.sleep(wake - now)
                now = time.time()
            woke = now
            while t is not None and origin + t <= now:
                at = origin + t
                self.next_k += step
                t = plan.time_of(self.next_k)
                if now - at > tolerance:
                    rec.drop(at)
                else:
                    backlog.append(at)
            # the due grabs wait in order; wake a free grabber for each one no grabber is coming for,
            # and when every grabber is busy add grabbers, up to the cap
            short = len(backlog) - self.coming
            while short > 0 and free:
                self.coming += 1
                run_callback(free.popleft().switch, None)
                short -= 1
            while short > 0 and len(self.grabbers) < self.max:
                self._spawn()
                short -= 1
        # the plan is over (or the storm stopped): the free grabbers end, the busy ones once the
        # backlog is empty
        self.finished = True
        self._wake_all_free()

    def _wake_all_free(self) -> None:
        while self.free:
            self.coming += 1
            self._loop.run_callback(self.free.popleft().switch, None)

    def _work(self, grabber: Grabber) -> None:
        free, backlog, rec, tolerance = self.free, self.backlog, self.rec, self.tolerance_s
        waiter = Waiter()
        self.coming -= 1
        try:
            while True:
                while backlog and not self.stopping:  # the oldest due grab first
                    at = backlog.popleft()
                    if time.time() - at > tolerance:
                        rec.drop(at)
                    elif not grabber.grab(at):
                        rec.idle += 1
                if self.stopping or self.finished:
                    return
                free.append(waiter)
                waiter.get()
                self.coming -= 1
        finally:
            grabber.close()

    def stop(self, now: float | None = None) -> None:
        """Stop starting grabs; arrivals meant to start before now that no grabber took count as
        dropped; grabbers finish the grab in flight (at most 2 s) and end."""
        self.stopping = True
        if self.dispatcher is not None:
            self.dispatcher.kill()
        now = time.time() if now is None else now
        while self.backlog:
            self.rec.drop(self.backlog.popleft())
        while True:
            t = self.plan.time_of(self.next_k)
            if t is None or self.origin + t > now:
                break
            self.rec.drop(self.origin + t)
            self.next_k += self.count
        self._wake_all_free()
        gevent.joinall(self.grabbers, timeout=2.0)
        gevent.killall(self.grabbers, block=False)
