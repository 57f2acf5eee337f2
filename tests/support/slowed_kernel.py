"""Test-only slowed kernel: ``kernels.split_batch`` plus about 30% more real work.

Used by the injected-slowdown test through ``hongbao bench --impl-module tests.support.slowed_kernel``
and by the calibration series (``python -m hongbao.harness.calibrate``; slowed_kernel_5 and
slowed_kernel_10 plant about 5% and 10%, sizes the calibration measures rather than assumes).
The result is the real split (so the suite's sum check still passes); the extra time comes from
splitting the first ``fraction`` of the batch once more with the same kernel, into the rows of the
caller's ``out`` that the full split then overwrites with the same shares, so the slowdown scales
with the batch like a genuinely slower kernel would (plus one call's fixed cost).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hongbao import kernels

SLOWDOWN = 0.30


def slowed(fraction: float) -> Callable:
    """A ``split_batch`` that also re-splits the first ``fraction`` of each batch (at least one envelope)."""

    def split_batch(totals, counts, **kwargs):
        """Same signature and result as ``kernels.split_batch``; slower by about ``fraction``."""
        totals = np.asarray(totals)
        extra = max(1, int(round(totals.shape[0] * fraction)))
        more = {k: v for k, v in kwargs.items() if k not in ("envelope_ids", "out")}
        given = kwargs.get("out")
        if given is not None and np.ndim(counts) == 0 and "envelope_ids" not in kwargs:
            more["out"] = given[:extra]  # the same rows the full split writes next: no allocation in the way
        kernels.split_batch(totals[:extra], counts if np.ndim(counts) == 0 else np.asarray(counts)[:extra], **more)
        return kernels.split_batch(totals, counts, **kwargs)

    return split_batch


split_batch = slowed(SLOWDOWN)
