"""The one place that sets Numba's flags for the kit's kernels.

``cache=True`` so a second process skips compilation; never ``fastmath``: shares are integer
cents and the float paths (beta, line-cut skips) must round the same way as the Python reference.
"""
from __future__ import annotations

import numba


def jit(*args, **kwargs):
    """``numba.njit`` with the kit's defaults (cache on, fastmath off)."""
    kwargs.setdefault("cache", True)
    kwargs.setdefault("fastmath", False)
    kwargs.setdefault("nogil", True)
    kwargs.setdefault("error_model", "numpy")  # no ZeroDivisionError branch on every // (divisors are >= 1)
    return numba.njit(*args, **kwargs)


def jit_parallel(*args, **kwargs):
    """Like :func:`jit` with ``parallel=True`` for the ``prange`` batch kernels."""
    kwargs["parallel"] = True
    return jit(*args, **kwargs)


def jit_inline(*args, **kwargs):
    """Like :func:`jit`, inlined into its callers at Numba IR level: for the tiny RNG and step
    functions called once per share, where a call costs as much as the work (measured: a
    double_mean step 6.1 ns called, 4.4 ns inlined)."""
    kwargs["inline"] = "always"
    return jit(*args, **kwargs)
