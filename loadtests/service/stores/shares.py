"""Where shares come from, for every store: the kernels, seeded by (service seed, envelope id)."""
from __future__ import annotations

from typing import Callable

import kernels
from kernels import reference, rng
from loadtests.service.validation import EnvelopeSpec


def pre_split(spec: EnvelopeSpec, seed: int, envelope_id: int) -> list[int]:
    """The whole split, made at creation (mode pre_split), in grab order."""
    return kernels.split(spec.total_cents, spec.count, algorithm=spec.algorithm, min_cents=spec.min_cents,
                         max_cents=spec.max_cents, seed=seed, envelope_id=envelope_id).tolist()


def on_grab(meta: dict, seed: int, remaining_cents: int, remaining_count: int, seq: int) -> int:
    """The share of grab ``seq`` drawn at grab time (mode on_grab): ``kernels.next_share``."""
    return kernels.next_share(remaining_cents, remaining_count, algorithm=meta["algorithm"], step=seq,
                              min_cents=meta["min_cents"], max_cents=meta["max_cents"], seed=seed,
                              envelope_id=meta["id"])


def online_stepper(meta: dict, seed: int) -> Callable[[int, int, int], int]:
    """``on_grab`` for one envelope without re-validating every call: the envelope key is derived
    once and kernels.reference.step_share (the body of kernels.next_share) is called directly.
    Returns ``step(remaining_cents, remaining_count, seq) -> share``; equal to ``on_grab`` (tested)."""
    code = kernels.ALGORITHMS[meta["algorithm"]].code
    key = rng.py_envelope_key(seed, meta["id"])
    m = meta["min_cents"]
    M = -1 if meta["max_cents"] is None else meta["max_cents"]
    step_share = reference.step_share

    def step(remaining_cents: int, remaining_count: int, seq: int) -> int:
        return step_share(code, remaining_cents, remaining_count, m, M, key, seq)
    return step
