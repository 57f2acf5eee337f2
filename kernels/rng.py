"""Counter-based random numbers keyed by (seed, envelope_id).

Draw ``j`` of step ``i`` of an envelope is ``mix64(key + counter * GOLDEN)`` with
``counter = (i << STEP_BITS) | j`` and ``key = envelope_key(seed, envelope_id)``. Nothing is
carried between envelopes or steps, so a split never depends on batch size, thread count or
which envelope came before, and the online (grab-time) form can draw step ``i`` directly.

Each function exists twice: a Numba form on ``uint64`` and a pure-Python twin on masked ints.
Tests check the twins agree bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import jit, jit_inline

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


# ---------------------------------------------------------------- pure Python twins
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


def py_normal(key: int, counter: int) -> tuple[float, int]:
    u1 = py_uniform(key, counter)
    u2 = py_uniform(key, counter + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2), counter + 2


def py_gamma(key: int, counter: int, shape: float) -> tuple[float, int]:
    """Marsaglia–Tsang Gamma(shape, 1) for shape >= 1."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x, counter = py_normal(key, counter)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = py_uniform(key, counter)
        counter += 1
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v, counter


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


@jit_inline
def normal(key, counter):
    u1 = uniform(key, counter)
    u2 = uniform(key, counter + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2), counter + 2


@jit
def gamma(key, counter, shape):
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x, counter = normal(key, counter)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(key, counter)
        counter += 1
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v, counter
