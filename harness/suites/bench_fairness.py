"""Fairness metrics throughput: score_matrix over 10**6 envelopes x 10 shares (budget: 5 s on 2 cores).

The matrix is split once (line_cut, Numba parallel) outside the timed rounds, and score_matrix is
called once before timing so JIT compilation (or Numba's cache load) is never measured. Beside the
time, ``extra_info`` holds a ratio from the same run: scoring time / splitting time of the same
matrix, which a noisy shared machine inflates on both sides alike.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from hongbao.harness.fairness import score_matrix
from hongbao.harness.fairness.scorecard import split_matrix

ENVELOPES = 10**6
COUNT = 10
TOTAL_CENTS = 10_000


def bench_score_matrix_1e6x10(benchmark, profile, seed) -> None:
    split_matrix("line_cut", total=TOTAL_CENTS, count=COUNT, envelopes=10, seed=seed)  # warm-up JIT
    t0 = time.perf_counter()
    shares = split_matrix("line_cut", total=TOTAL_CENTS, count=COUNT, envelopes=ENVELOPES, seed=seed)
    split_s = time.perf_counter() - t0
    warm = score_matrix(shares[:1000], total_cents=TOTAL_CENTS, min_cents=1)  # warm-up JIT
    assert warm["exact"]
    rounds = 3 if profile.name == "quick" else 7
    result = benchmark.pedantic(
        score_matrix, args=(shares,), kwargs={"total_cents": TOTAL_CENTS, "min_cents": 1}, rounds=rounds, iterations=1
    )
    median_s = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {
            "kind": "fairness_metrics",
            "envelopes": ENVELOPES,
            "count": COUNT,
            "total_cents": TOTAL_CENTS,
            "threads": numba.get_num_threads(),
            "split_seconds": split_s,
            "shares_scored_per_second": ENVELOPES * COUNT / median_s,
            "score_over_split_ratio": median_s / split_s,
            "position_fair": result["position_fair"],
            "min_p_value": result["min_p_value"],
        }
    )
    assert np.isfinite(median_s)
