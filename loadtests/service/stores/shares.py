"""Where shares come from, for every store: the kernels, seeded by (service seed, envelope id)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hongbao import kernels
from hongbao.kernels import reference, rng, steps
from hongbao.loadtests.service.validation import EnvelopeSpec


def pre_split(spec: EnvelopeSpec, seed: int, envelope_id: int) -> list[int]:
    """The whole split, made at creation (mode pre_split), in grab order."""
    return kernels.split(
        spec.total_cents,
        spec.count,
        algorithm=spec.algorithm,
        min_cents=spec.min_cents,
        max_cents=spec.max_cents,
        seed=seed,
        envelope_id=envelope_id,
    ).tolist()


def on_grab(meta: dict, seed: int, remaining_cents: int, remaining_count: int, seq: int) -> int:
    """The share of grab ``seq`` drawn at grab time (mode on_grab): ``kernels.next_share``."""
    return kernels.next_share(
        remaining_cents,
        remaining_count,
        algorithm=meta["algorithm"],
        step=seq,
        min_cents=meta["min_cents"],
        max_cents=meta["max_cents"],
        seed=seed,
        envelope_id=meta["id"],
    )


def online_stepper(meta: dict, seed: int) -> Callable[[int, int, int], int]:
    """``on_grab`` for one envelope without re-validating every call: the envelope key is derived
    once and the scalar step is called directly - the Numba one where it returns the Python
    reference's shares bit for bit (``twin_exact``: 3x cheaper; beta's step is O(people left)),
    the reference otherwise.
    Returns ``step(remaining_cents, remaining_count, seq) -> share``; equal to ``on_grab`` (tested)."""
    algo = kernels.ALGORITHMS[meta["algorithm"]]
    key = rng.py_envelope_key(seed, meta["id"])
    m = meta["min_cents"]
    M = -1 if meta["max_cents"] is None else meta["max_cents"]
    code = algo.code
    if algo.twin_exact:
        jitted, ukey = steps.step_share, np.uint64(key)

        def step(remaining_cents: int, remaining_count: int, seq: int) -> int:
            return int(jitted(code, remaining_cents, remaining_count, m, M, ukey, seq))

        return step
    step_share = reference.step_share

    def reference_step(remaining_cents: int, remaining_count: int, seq: int) -> int:
        return step_share(code, remaining_cents, remaining_count, m, M, key, seq)

    return reference_step


def warm_up() -> None:
    """Compile (or load from Numba's cache) every kernel a store calls, before serving requests."""
    for name, algo in kernels.ALGORITHMS.items():
        spec = EnvelopeSpec("warm", 100, 3, name, "pre_split", 1, None, 1.0)
        pre_split(spec, 0, 1)
        if algo.online:
            online_stepper({"id": 1, "algorithm": name, "min_cents": 1, "max_cents": None}, 0)(100, 3, 0)
