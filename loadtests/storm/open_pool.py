"""The open model in one Locust process: grabs start on the arrival plan's schedule
(loadtests/storm/arrivals.py), never waiting for answers. Each free grabber of a bounded pool claims
the next arrival of this process's share, sleeps until its intended start and grabs; a grabber that
claims an arrival more than ``tolerance_ms`` past its intended start does not send it: the grab is
counted as dropped in the second it was meant for. A supervisor greenlet grows the pool, up to this
process's share of ``max_users``, whenever a due arrival finds no free grabber (every grabber is
waiting for an answer). The storm's arrivals are dealt out over the processes by index (arrival k
goes to the process with ``k % count == index``), so the shares add up to the scenario's rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import gevent

from hongbao.loadtests.storm.arrivals import ArrivalPlan
from hongbao.loadtests.storm.grabber import Grabber
from hongbao.loadtests.storm.recording import Recording

#: how often the supervisor looks for arrivals no grabber was free to claim
TICK_S = 0.005


class OpenPool:
    def __init__(
        self,
        plan: ArrivalPlan,
        origin: float,
        index: int,
        count: int,
        *,
        tolerance_s: float,
        pre_allocated: int,
        max_users: int,
        recording: Recording,
        make_grabber: Callable[[int], Grabber],
    ) -> None:
        self.plan, self.origin, self.index, self.count = plan, origin, index, count
        self.tolerance_s, self.rec, self.make_grabber = tolerance_s, recording, make_grabber
        self.pre = max(1, math.ceil(pre_allocated / count))
        self.max = max(self.pre, math.ceil(max_users / count))
        self.grabbers: list[gevent.Greenlet] = []
        self.next_k = index  # the next arrival of this share no grabber has claimed
        self.stopping = False
        self.supervisor: gevent.Greenlet | None = None

    def start(self) -> None:
        for _ in range(self.pre):
            self._spawn()
        self.supervisor = gevent.spawn(self._supervise)

    def _spawn(self) -> None:
        self.grabbers.append(gevent.spawn(self._work, self.make_grabber(len(self.grabbers))))
        self.rec.pool_size(len(self.grabbers))

    def _claim(self) -> float | None:
        t = self.plan.time_of(self.next_k)
        if t is None:
            return None
        self.next_k += self.count
        return self.origin + t

    def _work(self, grabber: Grabber) -> None:
        rec, tolerance = self.rec, self.tolerance_s
        try:
            while not self.stopping:
                at = self._claim()
                if at is None:
                    return
                now = time.time()
                if at > now:
                    gevent.sleep(at - now)
                    now = time.time()
                    if self.stopping:  # the storm ended as this grab came due: not sent
                        if at <= now:
                            rec.drop(at)
                        return
                if now - at > tolerance:
                    rec.drop(at)
                elif not grabber.grab(at):
                    rec.idle += 1
        finally:
            grabber.close()

    def _supervise(self) -> None:
        late = self.tolerance_s / 4
        while not self.stopping:
            gevent.sleep(TICK_S)
            t = self.plan.time_of(self.next_k)
            if t is None:
                return
            if self.origin + t < time.time() - late and len(self.grabbers) < self.max:
                due, k = 0, self.next_k  # every grabber is busy: add one per due arrival
                now = time.time()
                while due < self.max - len(self.grabbers):
                    tk = self.plan.time_of(k)
                    if tk is None or self.origin + tk > now:
                        break
                    due, k = due + 1, k + self.count
                for _ in range(due):
                    self._spawn()

    def stop(self, now: float | None = None) -> None:
        """Stop starting grabs; arrivals meant to start before now that no grabber claimed count as
        dropped; grabbers finish the grab in flight (at most 2 s) and end."""
        self.stopping = True
        if self.supervisor is not None:
            self.supervisor.kill()
        now = time.time() if now is None else now
        while True:
            t = self.plan.time_of(self.next_k)
            if t is None or self.origin + t > now:
                break
            self.rec.drop(self.origin + t)
            self.next_k += self.count
        gevent.joinall(self.grabbers, timeout=2.0)
        gevent.killall(self.grabbers, block=False)
