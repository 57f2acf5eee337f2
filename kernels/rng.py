"""Counter-based random numbers keyed by (seed, envelope_id).

Draw ``j`` of step ``i`` of an envelope is ``mix64(key + counter * GOLDEN)`` with
``counter = (i << STEP_BITS) | j`` and ``key = envelope_key(seed, envelope_id)``. Nothing is
carried between envelopes or steps, so a split never depends on batch size, thread count or
which envelope came before, and the online (grab-time) form can draw step ``i`` directly.

Each function exists twice: a Numba form on ``uint64`` and a pure-Python twin on masked ints.
Tests check the twins agree bit for bit.
"""

from __future__ import annotations

import struct

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import jit_inline

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
STEP_BITS = 24  # up to 16M draws inside one step; up to 2**40 steps per envelope
TWO_POW_M53 = 1.0 / 9007199254740992.0

_U_GOLDEN = np.uint64(GOLDEN)
_U_M1 = np.uint64(_M1)
_U_M2 = np.uint64(_M2)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U11 = np.uint64(11)
_U32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)


# log(x) for x > 0 from IEEE operations only (no libm), so the Numba form and the Python twin
# agree bit for bit and LLVM can vectorise it: x = 2**e * f with f in [sqrt(1/2), sqrt(2)),
# log f = 2 atanh(s), s = (f-1)/(f+1), |s| < 0.1716, by its odd series to s**23 (truncation
# error < 1e-18 relative), and e * ln 2 in two parts (Cody-Waite). Accurate to about 1 ulp.
LN2_HI = 0.6931471803691238  # ln 2 to 33 bits: e * LN2_HI is exact for |e| < 2**20
LN2_LO = 1.9082149292705877e-10  # ln 2 - LN2_HI
SQRT_HALF = 0.7071067811865476
LOG_SERIES = tuple(2.0 / (2 * j + 1) for j in range(1, 12))  # 2/3, 2/5, ..., 2/23
_EXP_BITS = 0x7FF0000000000000
_MANT_BITS = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000


# ---------------------------------------------------------------- pure Python twins
def py_log(x: float) -> float:
    """Natural log of a normal double x > 0: the same operations as ``log_pos``."""
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    e = ((bits & _EXP_BITS) >> 52) - 1023
    f = struct.unpack("<d", struct.pack("<Q", (bits & _MANT_BITS) | _ONE_BITS))[0]  # [1, 2)
    if f >= 2.0 * SQRT_HALF:
        f = f * 0.5
        e += 1
    s = (f - 1.0) / (f + 1.0)
    z = s * s
    p = LOG_SERIES[10]
    for c in LOG_SERIES[9::-1]:
        p = p * z + c
    ef = float(e)
    return ef * LN2_HI + ((s * z) * p + (ef * LN2_LO + 2.0 * s))


def py_gamma2(key: int, counter: int) -> float:
    """Gamma(2, 1) = -log(u1 u2): draws ``counter`` and ``counter + 1``."""
    return -py_log(py_uniform(key, counter) * py_uniform(key, counter + 1))


def py_mix64(z: int) -> int:
    """SplitMix64's finaliser: a bijective 64-bit mixer."""
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def py_envelope_key(seed: int, envelope_id: int) -> int:
    return py_mix64((py_mix64(seed & MASK64) + (envelope_id & MASK64) * GOLDEN) & MASK64)


def py_counter(step: int, j: int) -> int:
    return ((step << STEP_BITS) | j) & MASK64


def py_draw(key: int, counter: int) -> int:
    return py_mix64((key + counter * GOLDEN) & MASK64)


def py_below(key: int, counter: int, n: int) -> tuple[int, int]:
    """Exactly uniform integer in [0, n) (n >= 1); returns (value, next counter)."""
    if n <= 0xFFFFFFFF:
        threshold = ((1 << 32) - n) % n
        while True:
            m = (py_draw(key, counter) & 0xFFFFFFFF) * n
            counter += 1
            if (m & 0xFFFFFFFF) >= threshold:
                return m >> 32, counter
    mask = (1 << (n - 1).bit_length()) - 1
    while True:
        x = py_draw(key, counter) & mask
        counter += 1
        if x < n:
            return x, counter


def py_uniform(key: int, counter: int) -> float:
    """Float in the open interval (0, 1), safe for log()."""
    return ((py_draw(key, counter) >> 11) + 0.5) * TWO_POW_M53


# ---------------------------------------------------------------- Numba forms
@jit_inline
def mix64(z):
    z = (z ^ (z >> _U30)) * _U_M1
    z = (z ^ (z >> _U27)) * _U_M2
    return z ^ (z >> _U31)


@jit_inline
def envelope_key(seed, envelope_id):
    return mix64(mix64(np.uint64(seed)) + np.uint64(envelope_id) * _U_GOLDEN)


@jit_inline
def id_of(envelope_ids, e):
    """Envelope e's id: ``envelope_ids[e]``, or ``e`` itself when no ids were given (empty array),
    which spares the batch API an arange as large as the batch."""
    return envelope_ids[e] if envelope_ids.shape[0] else np.uint64(e)


@jit_inline
def counter_of(step, j):
    """Counters are int64 in the kernels (plain ``counter += 1``); ``draw`` widens them."""
    return (np.int64(step) << STEP_BITS) | np.int64(j)


@jit_inline
def draw(key, counter):
    return mix64(key + np.uint64(counter) * _U_GOLDEN)


@jit_inline
def below(key, counter, n):
    """Exactly uniform int64 in [0, n) for int64 n >= 1; returns (value, next counter)."""
    un = np.uint64(n)
    one = np.uint64(1)
    counter = np.int64(counter)
    if un <= _LOW32:
        # Lemire's multiply-shift; the modulo is only needed in the rare low-bits zone
        while True:
            m = (draw(key, counter) & _LOW32) * un
            counter += 1
            low = m & _LOW32
            if low >= un or low >= ((_LOW32 - un) + one) % un:
                return np.int64(m >> _U32), counter
    mask = un - one
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    mask |= mask >> np.uint64(32)
    while True:
        x = draw(key, counter) & mask
        counter += 1
        if x < un:
            return np.int64(x), counter


@jit_inline
def uniform(key, counter):
    return (np.float64(draw(key, counter) >> _U11) + 0.5) * TWO_POW_M53


@intrinsic
def _f64_bits(typingctx, x):
    """The IEEE bits of a float64 as uint64 (an LLVM bitcast: no memory, vectorisable)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    """The float64 whose IEEE bits are the uint64 x."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8, _L9, _L10 = LOG_SERIES
_U_EXP_BITS = np.uint64(_EXP_BITS)
_U_MANT_BITS = np.uint64(_MANT_BITS)
_U_ONE_BITS = np.uint64(_ONE_BITS)
_U52 = np.uint64(52)


@jit_inline
def log_pos(x):
    """Natural log of a normal double x > 0, operation for operation ``py_log``."""
    bits = _f64_bits(x)
    e = np.int64((bits & _U_EXP_BITS) >> _U52) - 1023
    f = _bits_f64((bits & _U_MANT_BITS) | _U_ONE_BITS)
    up = f >= 2.0 * SQRT_HALF
    f = f * 0.5 if up else f
    e = e + 1 if up else e
    s = (f - 1.0) / (f + 1.0)
    z = s * s
    p = (
        ((((((((_L10 * z + _L9) * z + _L8) * z + _L7) * z + _L6) * z + _L5) * z + _L4) * z + _L3) * z + _L2) * z + _L1
    ) * z + _L0
    ef = np.float64(e)
    return ef * LN2_HI + ((s * z) * p + (ef * LN2_LO + 2.0 * s))


@jit_inline
def gamma2(key, counter):
    """Gamma(2, 1) = -log(u1 u2) from draws ``counter`` and ``counter + 1``: no rejection."""
    return -log_pos(uniform(key, counter) * uniform(key, counter + 1))
