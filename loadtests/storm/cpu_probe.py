"""A locustfile add-on (``-f USERS.py,loadtests/storm/cpu_probe.py``) that appends, every
$HONGBAO_CPU_PROBE_S seconds (default 0.5), one JSON line to $HONGBAO_CPU_PROBE: wall time, this
process's CPU seconds (psutil) and Locust's request count so far. Reading both at the same instant
inside the process gives CPU per request over any window, without Locust's start-up cost."""

from __future__ import annotations

import json
import os
import time

import gevent
import psutil
from locust import events

from hongbao.loadtests.storm.measure_generator import PROBE_ENV


def _loop(environment, path: str, every_s: float) -> None:
    me = psutil.Process()
    with open(path, "a") as f:
        while True:
            cpu = me.cpu_times()
            stats = environment.runner.stats if environment.runner else environment.stats
            grabs = sum(e.num_requests for (name, _), e in stats.entries.items() if name.startswith("grab"))
            f.write(
                json.dumps(
                    {
                        "t": time.time(),
                        "cpu_s": cpu.user + cpu.system,
                        "grab_requests": grabs,
                        "requests": stats.total.num_requests,
                    }
                )
                + "\n"
            )
            f.flush()
            gevent.sleep(every_s)


@events.test_start.add_listener
def _start(environment, **kwargs):
    path = os.environ.get(PROBE_ENV)
    if path:
        gevent.spawn(_loop, environment, path, float(os.environ.get("HONGBAO_CPU_PROBE_S", "0.5")))
