"""Store-side capacity figures on real stores: tracemalloc for the memory store, MEMORY USAGE and the
grab script's CPU cost on a real redis-server (started here on a free loopback port)."""

from __future__ import annotations

import pytest
import redis

from hongbao.harness.capacity.measure import memory_store_bytes, redis_figures
from tests.support.redis_server import redis_server


def test_memory_store_bytes_per_envelope():
    fig = memory_store_bytes(envelopes=300, count=10)
    assert fig["envelopes"] == 300 and fig["shares_per_envelope"] == 10
    # an envelope holds at least its ten shares; every grab adds a record and a ledger entry
    assert fig["bytes_per_envelope_fresh"] > 10 * 8
    assert fig["bytes_per_envelope_grabbed"] > fig["bytes_per_envelope_fresh"]


@pytest.mark.redis
def test_redis_figures_measure_real_keys_and_leave_the_server_clean():
    with redis_server() as srv:
        fig = redis_figures(srv.url, envelopes=300, count=10)
        client = redis.Redis.from_url(srv.url)
        left = {k.decode() for k in client.keys("*")}
        client.close()
    assert fig["grabs"] == 3000
    assert fig["bytes_per_envelope_fresh"] > 0
    assert fig["bytes_per_envelope_grabbed"] > fig["bytes_per_envelope_fresh"]
    assert fig["redis_cpu_seconds"] > 0 and fig["grabs_per_redis_core"] == pytest.approx(
        fig["grabs"] / fig["redis_cpu_seconds"]
    )
    assert fig["redis_pid"] == srv.pid  # CPU read from the server we started
    assert left <= {"hb:envelope_id"}  # the measurement's envelopes are gone
