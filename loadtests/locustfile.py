"""Grab-storm locustfile, usable directly or through ``hongbao storm``.

    HONGBAO_SCENARIO=seeds/storms/countdown.toml \
        locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000

The scenario (default seeds/storms/smoke.toml) sets the seed, envelopes, users, load model and
shape; the shape ends the run after the scenario's duration. Set HONGBAO_STORM_OUT=DIR to get
the exact latency histograms and per-second timeline in DIR/locust_extra.json.
Distributed: run the same command with ``--master`` on one machine and ``--worker
--master-host HOST`` on others (each with the same HONGBAO_SCENARIO), or use ``--processes N``.
"""

from __future__ import annotations

from hongbao.loadtests.shapes import ScenarioShape  # noqa: F401  (the one shape Locust will find)
from hongbao.loadtests.storm import recorder  # noqa: F401  (registers the event listeners)
from hongbao.loadtests.users import SCENARIO, GrabberUser, SenderUser

__all__ = ["GrabberUser", "ScenarioShape"]

if SCENARIO.senders > 0:

    class Sender(SenderUser):
        abstract = False
        fixed_count = SCENARIO.senders
