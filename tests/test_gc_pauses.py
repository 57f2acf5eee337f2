"""The storm's collector freezer (loadtests/storm/gc_pauses.py): while a storm runs, what survived the
last second is moved out of the full collection's walk; when it stops, the heap is unfrozen."""

from __future__ import annotations

import gc

import gevent

from hongbao.loadtests.storm.gc_pauses import Freezer


def test_survivors_are_frozen_each_period_and_unfrozen_at_the_stop():
    gc.unfreeze()  # this test process may have frozen its heap before (the service app does, in-process)
    freezer = Freezer(every_s=0.05)
    freezer.start()
    try:
        at_start = gc.get_freeze_count()
        assert at_start > 0  # what the process held when the storm started
        kept = [[i] for i in range(20_000)]  # a storm's grants: tracked objects that live on
        gevent.sleep(0.2)
        assert gc.get_freeze_count() >= at_start + len(kept)
        gc.collect()
        assert freezer.longest_pause_ms > 0
    finally:
        freezer.stop()
    assert gc.get_freeze_count() == 0
    assert freezer._timed not in gc.callbacks
    freezer.stop()  # a second stop is harmless


def test_a_full_collection_walks_only_what_was_made_since_the_last_freeze():
    freezer = Freezer(every_s=0.05)
    kept = [[i] for i in range(50_000)]
    freezer.start()
    try:
        gevent.sleep(0.1)
        young = [[i] for i in range(100)]
        walked = len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1))
        assert walked < len(kept) // 10  # the 50,000 old lists are out of the collector's way
    finally:
        freezer.stop()
    assert len(gc.get_objects()) > len(kept) + len(young)  # unfrozen: all back in the collector's view
