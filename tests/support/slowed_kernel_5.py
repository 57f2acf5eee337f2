"""Test-only slowed kernel planting about 5% (tests/support/slowed_kernel.py).

The calibration measures its real size.
"""

from __future__ import annotations

from tests.support.slowed_kernel import slowed

SLOWDOWN = 0.05
split_batch = slowed(SLOWDOWN)
