"""Parallel benchmarks: each round paired with a serial run of the same batch just before it."""
from __future__ import annotations

import pytest

from harness import bench


def test_paired_speedup_is_the_median_of_per_round_ratios():
    # the ratio of the medians would be 4 / 4 = 1.0; the pairs give 3, 1, 1.5, 2 and 2.5 -> 2.0
    out = bench.paired_figures([3.0, 4.0, 6.0, 8.0, 10.0], [1.0, 4.0, 4.0, 4.0, 4.0])
    assert out["parallel_speedup"] == 2.0
    assert out["parallel_speedup_quartiles"] == [1.5, 2.5]
    assert out["paired_serial_seconds_samples"] == [3.0, 4.0, 6.0, 8.0, 10.0]


def test_paired_ratios_refuse_unpaired_samples():
    with pytest.raises(ValueError, match="differ in length: 2 vs 3"):
        bench.paired_ratios([1.0, 2.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        bench.paired_ratios([], [])


def test_paired_run_times_one_call_per_measure():
    calls = []
    ticks = iter([10.0, 10.5, 20.0, 22.0])
    run = bench.PairedRun(lambda: calls.append(1), lambda: next(ticks))
    run.measure()
    run.measure()
    assert calls == [1, 1] and run.samples == [0.5, 2.0]
