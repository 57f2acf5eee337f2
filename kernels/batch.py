"""Numba entry points: one envelope, and many at once (serial loop or ``prange`` over envelopes).

Every envelope gets its own key from (seed, envelope_id) and writes only its own row or slice,
so nothing shared is written inside ``prange`` and the result is independent of thread count.
"""
from __future__ import annotations

import numba
import numpy as np

from kernels import rng
from kernels._jit import jit, jit_parallel
from kernels.linecut import line_cut_into
from kernels.registry import LINE_CUT
from kernels.steps import sequential_into


@jit
def split_into(out, alg, total, m, M, seed, envelope_id):
    key = rng.envelope_key(seed, envelope_id)
    if alg == LINE_CUT:
        line_cut_into(out, total, m, M, key)
    else:
        sequential_into(out, alg, total, m, M, key)


@jit
def split_fixed_serial(out, alg, totals, m, M, seed, envelope_ids):
    for e in range(totals.shape[0]):
        split_into(out[e], alg, totals[e], m, M, seed, envelope_ids[e])


@jit_parallel
def split_fixed_parallel(out, alg, totals, m, M, seed, envelope_ids):
    for e in numba.prange(totals.shape[0]):
        split_into(out[e], alg, totals[e], m, M, seed, envelope_ids[e])


@jit
def split_ragged_serial(out, offsets, alg, totals, m, M, seed, envelope_ids):
    for e in range(totals.shape[0]):
        split_into(out[offsets[e]:offsets[e + 1]], alg, totals[e], m, M, seed, envelope_ids[e])


@jit_parallel
def split_ragged_parallel(out, offsets, alg, totals, m, M, seed, envelope_ids):
    for e in numba.prange(totals.shape[0]):
        split_into(out[offsets[e]:offsets[e + 1]], alg, totals[e], m, M, seed, envelope_ids[e])


def split_one(alg: int, total: int, count: int, m: int, M: int, seed: int, envelope_id: int) -> np.ndarray:
    out = np.empty(count, dtype=np.int64)
    split_into(out, alg, np.int64(total), np.int64(m), np.int64(M), np.uint64(seed), np.uint64(envelope_id))
    return out
