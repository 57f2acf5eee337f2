"""Test-only slowed kernel: ``kernels.split_batch`` plus about 30% more real work.

Used by the injected-slowdown test through ``hongbao bench --impl-module tests.support.slowed_kernel``.
The result is the real split (so the suite's sum check still passes); the extra time comes from
splitting the first ``SLOWDOWN`` fraction of the batch a second time with the same kernel, so the
slowdown scales with the batch like a genuinely slower kernel would.
"""
from __future__ import annotations

import numpy as np

from hongbao import kernels

SLOWDOWN = 0.30


def split_batch(totals, counts, **kwargs):
    """Same signature and result as ``kernels.split_batch``; ~30% slower."""
    out = kernels.split_batch(totals, counts, **kwargs)
    totals = np.asarray(totals)
    extra = max(1, int(round(totals.shape[0] * SLOWDOWN)))
    more = {k: v for k, v in kwargs.items() if k not in ("envelope_ids", "out")}
    kernels.split_batch(totals[:extra], counts if np.ndim(counts) == 0 else np.asarray(counts)[:extra], **more)
    return out
