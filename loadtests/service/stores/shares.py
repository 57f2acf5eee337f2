"""Where shares come from, for every store: the kernels, seeded by (service seed, envelope id)."""
from __future__ import annotations

import kernels
from loadtests.service.validation import EnvelopeSpec


def pre_split(spec: EnvelopeSpec, seed: int, envelope_id: int) -> list[int]:
    """The whole split, made at creation (mode pre_split), in grab order."""
    return kernels.split(spec.total_cents, spec.count, algorithm=spec.algorithm, min_cents=spec.min_cents,
                         max_cents=spec.max_cents, seed=seed, envelope_id=envelope_id).tolist()


def on_grab(meta: dict, seed: int, remaining_cents: int, remaining_count: int, seq: int) -> int:
    """The share of grab ``seq`` drawn at grab time (mode on_grab); equals ``pre_split(...)[seq]``."""
    return kernels.next_share(remaining_cents, remaining_count, algorithm=meta["algorithm"], step=seq,
                              min_cents=meta["min_cents"], max_cents=meta["max_cents"], seed=seed,
                              envelope_id=meta["id"])
