"""The yardstick of the generator-CPU measurement: a plain Locust ``FastHttpUser`` that only posts
the grab in a loop (no adapter, no outcome names, no histograms, no envelope pool). Each user
grabs one large envelope it created with a new user id per grab, so the service grants every time.

    locust -f loadtests/storm/plain_user.py --headless --host http://127.0.0.1:8000 -u 50 -r 50
"""

from __future__ import annotations

import itertools

from locust.contrib.fasthttp import FastHttpUser

from hongbao.loadtests.storm.measure_generator import PLAIN_COUNT, PLAIN_TOTAL_CENTS

_numbers = itertools.count(1)


class PlainGrabber(FastHttpUser):
    """POST /envelopes/{id}/grab in a closed loop, nothing else."""

    def on_start(self) -> None:
        self.n = next(_numbers)
        self.i = 0
        r = self.client.post(
            "/envelopes",
            json={
                "sender": f"plain-s{self.n}",
                "total_cents": PLAIN_TOTAL_CENTS,
                "count": PLAIN_COUNT,
                "algorithm": "double_mean",
                "mode": "on_grab",
            },
            name="create envelope",
        )
        self.envelope = int(r.json()["id"])

    def grab(self) -> None:
        self.i += 1
        self.client.post(
            f"/envelopes/{self.envelope}/grab",
            name="grab",
            json={"user": f"plain{self.n}-{self.i}", "request_id": f"p{self.n}-{self.i}"},
        )

    tasks = [grab]
