"""Keep the storm's Locust processes free of long garbage-collector pauses.

A storm's process keeps what it has seen (every grant, every client behaviour's answers) and so its
heap grows by hundreds of thousands of objects a minute. CPython's full collection walks every
tracked object: measured in a default ``hongbao capacity`` ramp, it paused the generator for
37-91 ms at a time, longer than the open model's 50 ms tolerance, so the grabs due in the pause were
dropped and the ramp stopped at a knee the service never had.

While a storm runs, ``Freezer`` moves every object that has survived so far into the collector's
permanent generation once a second (``gc.freeze()``), so a full collection only walks what the last
second made. The whole heap is unfrozen when the storm stops (a Locust process freezes nothing
else). What the storm's objects reference is freed by reference counting as always; only garbage in
reference cycles that was made before a freeze waits for the unfreeze. The longest pause seen is
kept for the storm's results.
"""

from __future__ import annotations

import gc
import time

import gevent

#: how often the survivors are moved out of the collector's way
FREEZE_EVERY_S = 1.0


class Freezer:
    def __init__(self, every_s: float = FREEZE_EVERY_S) -> None:
        self.every_s = every_s
        self.longest_pause_ms = 0.0
        self._loop: gevent.Greenlet | None = None
        self._started = 0.0

    def start(self) -> None:
        if self._loop is not None:
            return
        gc.callbacks.append(self._timed)
        gc.freeze()
        self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.kill()
        self._loop = None
        gc.callbacks.remove(self._timed)
        gc.unfreeze()

    def _run(self) -> None:
        while True:
            gevent.sleep(self.every_s)
            gc.freeze()

    def _timed(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest_pause_ms = max(self.longest_pause_ms, (time.perf_counter() - self._started) * 1000.0)
