"""The open model's dispatcher (loadtests/storm/open_pool.py) in one process, with greenlets as
grabbers that note what they were handed: every arrival of the share is either grabbed or counted as
dropped, never sent before its intended start nor later than the tolerance, the grabs due within a
tick go out together, a busy pool grows to its cap and no further, and stopping counts what was left.
"""

from __future__ import annotations

import time

import gevent
import pytest

from hongbao.loadtests.storm.arrivals import plan_for
from hongbao.loadtests.storm.open_pool import OpenPool
from hongbao.loadtests.storm.recording import Recording

pytestmark = pytest.mark.timeout(60)


class NotingGrabber:
    """Grabs nothing over the network: notes (intended start, time handed over) and holds the
    grabber for ``busy_s`` as a grab waiting for its answer would."""

    def __init__(self, log: list, busy_s: float = 0.0) -> None:
        self.log, self.busy_s, self.closed = log, busy_s, False

    def grab(self, intended: float | None = None) -> bool:
        self.log.append((intended, time.time()))
        if self.busy_s:
            gevent.sleep(self.busy_s)
        return True

    def close(self) -> None:
        self.closed = True


def _pool(rate: float, duration_s: float, *, index=0, count=1, tolerance_s=1.0, tick_s=0.001, pre=4, cap=8, busy_s=0.0):
    log: list = []
    made: list[NotingGrabber] = []
    rec = Recording()

    def make(_: int) -> NotingGrabber:
        made.append(NotingGrabber(log, busy_s))
        return made[-1]

    plan = plan_for("steady", {"rate": rate}, duration_s=duration_s)
    pool = OpenPool(
        plan,
        time.time() + 0.05,
        index,
        count,
        tolerance_s=tolerance_s,
        tick_s=tick_s,
        pre_allocated=pre,
        max_users=cap,
        recording=rec,
        make_grabber=make,  # type: ignore[arg-type]
    )
    return pool, plan, log, made, rec


def _run(pool: OpenPool) -> None:
    pool.start()
    assert pool.dispatcher is not None
    pool.dispatcher.join(timeout=30)
    gevent.joinall(pool.grabbers, timeout=30)


def test_every_arrival_is_grabbed_once_in_order_never_early():
    pool, plan, log, made, rec = _pool(rate=2000, duration_s=0.5)
    _run(pool)
    intended = [at for at, _ in log]
    assert len(log) == plan.total == 1000
    assert intended == sorted(intended)
    assert intended == [pool.origin + plan.time_of(k) for k in range(plan.total)]
    assert all(sent >= at for at, sent in log)
    assert not rec.dropped and all(g.closed for g in made)
    assert all(g.dead for g in pool.grabbers)  # the plan over, the grabbers ended by themselves


def test_grabs_due_within_a_tick_go_out_together():
    # 1,000 grabs/s with a 50 ms tick: the dispatcher wakes at most once per tick, so the grabs come
    # in bursts of about 50, far fewer bursts than grabs (a slower machine makes fewer, larger ones)
    pool, plan, log, _, rec = _pool(rate=1000, duration_s=0.5, tick_s=0.05, tolerance_s=5.0, cap=100)
    _run(pool)
    assert len(log) == plan.total == 500
    assert _bursts(log) <= 30  # about 10; without the tick, about 500
    assert not rec.dropped


def _bursts(log: list) -> int:
    """Sends with no pause of 0.5 ms between them count as one burst (one dispatcher wake-up)."""
    sends = sorted(sent for _, sent in log)
    return 1 + sum(1 for a, b in zip(sends, sends[1:], strict=False) if b - a > 0.0005)


def test_a_sparse_share_is_dispatched_grab_by_grab():
    # 40 grabs/s is 2 per 50 ms tick, under BATCH_FROM: each grab goes out at its own time
    pool, plan, log, _, rec = _pool(rate=40, duration_s=0.5, tick_s=0.05, tolerance_s=5.0)
    _run(pool)
    assert len(log) == plan.total == 20
    assert _bursts(log) >= 0.8 * len(log)


def test_a_busy_pool_grows_to_its_cap_then_drops_what_it_cannot_start_in_time():
    # every grab holds its grabber 200 ms; 200 arrivals/s need 40 grabbers, the cap is 6
    tolerance = 0.05
    pool, plan, log, made, rec = _pool(
        rate=200, duration_s=1.0, tolerance_s=tolerance, pre=2, cap=6, busy_s=0.2, tick_s=0.0
    )
    _run(pool)
    dropped = sum(rec.dropped.values())
    assert len(made) == 6 == max(rec.pool_peak.values())
    assert dropped > 0 and len(log) + dropped == plan.total
    assert all(0 <= sent - at <= tolerance + 0.1 for at, sent in log)  # never sent later than the tolerance
    assert sum(rec.dropped.values()) == dropped


def test_a_share_takes_every_count_th_arrival_from_its_index():
    pool, plan, log, _, _ = _pool(rate=1000, duration_s=0.3, index=1, count=3)
    _run(pool)
    assert [at for at, _ in log] == [pool.origin + plan.time_of(k) for k in range(1, plan.total, 3)]


def test_stop_counts_the_arrivals_due_and_not_started_as_dropped():
    pool, plan, log, made, rec = _pool(rate=500, duration_s=5.0, pre=1, cap=1, busy_s=0.3, tolerance_s=10.0)
    pool.start()
    gevent.sleep(0.5)
    stop_at = time.time()
    pool.stop(stop_at)
    due = sum(1 for k in range(plan.total) if pool.origin + plan.time_of(k) <= stop_at)
    assert len(log) + sum(rec.dropped.values()) == due
    assert len(log) <= 3 and all(g.closed for g in made)
    assert all(g.dead for g in pool.grabbers)
