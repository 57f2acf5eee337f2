"""Where the stores' shares come from: on_grab's fast stepper is exactly kernels.next_share, the
Redis store's predicted window equals the chained online step, and splits are seeded by
(service seed, envelope id)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hongbao import kernels
from hongbao.loadtests.service.stores import shares
from hongbao.loadtests.service.stores.online_plan import OnlinePlan
from hongbao.loadtests.service.validation import EnvelopeSpec

ONLINE = [a.name for a in kernels.ALGORITHMS.values() if a.online]


@settings(max_examples=300, deadline=None)
@given(
    algorithm=st.sampled_from(ONLINE),
    remaining=st.integers(1, 10**12),
    count=st.integers(1, 100_000),
    seq=st.integers(0, 10**5),
    seed=st.integers(0, 2**32),
    envelope_id=st.integers(1, 2**40),
    min_cents=st.integers(0, 3),
    capped=st.booleans(),
)
def test_stepper_equals_next_share(algorithm, remaining, count, seq, seed, envelope_id, min_cents, capped):
    if remaining < count * min_cents:
        remaining = count * min_cents + 1
    max_cents = -(-remaining // count) + 7 if capped else None
    meta = {"id": envelope_id, "algorithm": algorithm, "min_cents": min_cents, "max_cents": max_cents}
    step = shares.online_stepper(meta, seed)
    assert (
        step(remaining, count, seq)
        == shares.on_grab(meta, seed, remaining, count, seq)
        == kernels.next_share(
            remaining,
            count,
            algorithm=algorithm,
            step=seq,
            min_cents=min_cents,
            max_cents=max_cents,
            seed=seed,
            envelope_id=envelope_id,
        )
    )


@pytest.mark.parametrize("algorithm", ONLINE)
def test_plan_window_is_the_chained_online_step(algorithm):
    config = {"id": 17, "algorithm": algorithm, "min_cents": 1, "max_cents": None, "count": 40}
    plan = OnlinePlan(config, seed=5)
    assert plan.window(4) == ["", ""]  # no state seen yet: no candidates
    plan.observe(0, 10_000)
    window = plan.window(64)
    pairs = plan.pairs_of(window)
    assert window[0] == 0 and len(pairs) == 40  # clipped at the envelope's count
    remaining = 10_000
    for seq in range(40):
        share = kernels.next_share(remaining, 40 - seq, algorithm=algorithm, step=seq, seed=5, envelope_id=17)
        assert pairs[seq] == (remaining, share)
        remaining -= share
    assert remaining == 0
    plan.observe(3, pairs[3][0])  # a sighting on the predicted chain keeps it
    assert plan.pairs_of(plan.window(2))[:2] == pairs[3:5] and plan.window(2)[0] == 3
    plan.observe(5, 500)  # an unexpected state restarts the chain from it
    assert plan.window(1)[0] == 5 and plan.pairs_of(plan.window(1))[0][0] == 500
    plan.observe(2, 10_000)  # stale sightings are ignored
    assert plan.head == 5
    plan.observe(40, 0)
    assert plan.window(8) == [40, ""]  # sold out: no candidates


def test_pre_split_is_seeded_by_seed_and_envelope_id():
    spec = EnvelopeSpec("s", 10_000, 50, "line_cut", "pre_split", 1, None, 60.0)
    a, b, c = shares.pre_split(spec, 1, 7), shares.pre_split(spec, 1, 8), shares.pre_split(spec, 2, 7)
    assert sum(a) == sum(b) == sum(c) == 10_000
    assert a == shares.pre_split(spec, 1, 7) and a != b and a != c
