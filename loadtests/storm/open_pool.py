"""The open model in one Locust process: a scheduler greenlet emits each grab's intended start time
from the arrival plan (loadtests/storm/arrivals.py), never waiting for answers, and a bounded pool of
grabber greenlets takes them. The storm's arrivals are dealt out over the processes by index
(arrival k goes to the process with ``k % count == index``), so every process's share adds up to the
scenario's offered rate. A grabber that takes an arrival more than ``tolerance_ms`` after its
intended time does not send it: the grab is counted as dropped in the second it was meant for.
When no grabber is free at an arrival the pool grows, up to this process's share of ``max_users``.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import gevent
from gevent.queue import Queue

from hongbao.loadtests.storm.arrivals import ArrivalPlan
from hongbao.loadtests.storm.grabber import Grabber
from hongbao.loadtests.storm.recording import Recording

#: the scheduler wakes at least this far apart (it emits every arrival that is due when it wakes)
TICK_S = 0.001


class OpenPool:
    def __init__(self, plan: ArrivalPlan, origin: float, index: int, count: int, *, tolerance_s: float,
                 pre_allocated: int, max_users: int, recording: Recording,
                 make_grabber: Callable[[int], Grabber]) -> None:
        self.plan, self.origin, self.index, self.count = plan, origin, index, count
        self.tolerance_s, self.rec, self.make_grabber = tolerance_s, recording, make_grabber
        self.pre = max(1, math.ceil(pre_allocated / count))
        self.max = max(self.pre, math.ceil(max_users / count))
        self.queue: Queue = Queue()
        self.idle = 0
        self.grabbers: list[gevent.Greenlet] = []
        self.next_k = index
        self.scheduler: gevent.Greenlet | None = None

    def start(self) -> None:
        for _ in range(self.pre):
            self._spawn()
        self.scheduler = gevent.spawn(self._schedule)

    def _spawn(self) -> None:
        self.grabbers.append(gevent.spawn(self._work, self.make_grabber(len(self.grabbers))))
        self.rec.pool_size(len(self.grabbers))

    def _schedule(self) -> None:
        plan, origin, step = self.plan, self.origin, self.count
        while True:
            t = plan.time_of(self.next_k)
            if t is None:
                return
            at = origin + t
            now = time.time()
            if at > now + TICK_S / 2:
                gevent.sleep(max(at - now, TICK_S))
                continue
            if self.idle <= self.queue.qsize() and len(self.grabbers) < self.max:
                self._spawn()
            self.queue.put(at)
            self.next_k += step

    def _work(self, grabber: Grabber) -> None:
        queue, rec, tolerance = self.queue, self.rec, self.tolerance_s
        try:
            while True:
                self.idle += 1
                try:
                    at = queue.get()
                finally:
                    self.idle -= 1
                if at is None:
                    return
                if time.time() - at > tolerance:
                    rec.drop(at)
                    continue
                if not grabber.grab(at):
                    rec.idle += 1
        finally:
            grabber.close()

    def stop(self, now: float | None = None) -> None:
        """Stop scheduling; arrivals meant to start before now that never started count as dropped;
        grabbers finish their grab in flight (at most 2 s) and end."""
        if self.scheduler is not None:
            self.scheduler.kill()
        now = time.time() if now is None else now
        while not self.queue.empty():
            at = self.queue.get_nowait()
            if at is not None:
                self.rec.drop(at)
        while True:     # due but never emitted: the scheduler fell behind
            t = self.plan.time_of(self.next_k)
            if t is None or self.origin + t > now:
                break
            self.rec.drop(self.origin + t)
            self.next_k += self.count
        for _ in self.grabbers:
            self.queue.put(None)
        gevent.joinall(self.grabbers, timeout=2.0)
        gevent.killall(self.grabbers, block=False)
