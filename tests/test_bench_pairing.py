"""Parallel benchmarks: each round paired with a serial run of the same batch just before it."""

from __future__ import annotations

import pytest

from hongbao.harness import bench


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


def test_alternating_pair_times_both_sides_beside_every_round_in_both_orders():
    """Drive it as pytest-benchmark's pedantic does (setup, then the round), for 4 rounds."""
    log: list[str] = []
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    pair = bench.AlternatingPair(lambda: log.append("base"), lambda: log.append("new"), clock)
    for _ in range(4):
        log.append("control")
        pair.before_round()
        log.append("ROUND")  # pytest-benchmark's timed round: reported, not paired
    assert pair.order == ["base-first", "new-first", "base-first", "new-first"]
    assert len(pair.samples) == 4 and len(pair.new_samples) == 4
    # base-first: untimed base, timed base, timed new; new-first: untimed new, timed new, timed base
    assert log == [
        "control",
        "base",
        "base",
        "new",
        "ROUND",
        "control",
        "new",
        "new",
        "base",
        "ROUND",
        "control",
        "base",
        "base",
        "new",
        "ROUND",
        "control",
        "new",
        "new",
        "base",
        "ROUND",
    ]


def test_base_pair_figures_are_the_median_of_new_over_base():
    out = bench.base_pair_figures("abc", [1.0, 2.0, 2.0, 4.0, 1.0], ["base-first"] * 5, [1.1, 2.2, 2.0, 4.8, 1.3])
    assert out["vs_base"] == pytest.approx(1.1)
    assert out["vs_base_quartiles"] == pytest.approx([1.1, 1.2])
    assert out["base_commit"] == "abc" and out["base_seconds_samples"] == [1.0, 2.0, 2.0, 4.0, 1.0]
    assert out["paired_new_seconds_samples"] == [1.1, 2.2, 2.0, 4.8, 1.3]
