"""The scorecard: split many envelopes with each algorithm and score them (fairness.json content)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from hongbao import kernels
from hongbao.harness.fairness import theory
from hongbao.harness.fairness.allocator import Allocator, run_allocator
from hongbao.harness.fairness.score import score_matrix
from hongbao.kernels import registry

SCHEMA = "hongbao.fairness/1"

Progress = Callable[[str], None]


def split_matrix(
    algorithm: str,
    *,
    total: int,
    count: int,
    envelopes: int,
    seed: int,
    min_cents: int = 1,
    max_cents: int | None = None,
) -> np.ndarray:
    """``envelopes`` splits of ``total`` cents among ``count`` (ids 0..envelopes-1), Numba parallel."""
    return kernels.split_batch(
        np.full(envelopes, total, dtype=np.int64),
        count,
        algorithm=algorithm,
        min_cents=min_cents,
        max_cents=max_cents,
        seed=seed,
    )


def score_algorithm(
    algorithm: str,
    *,
    total: int,
    count: int,
    envelopes: int,
    seed: int,
    alpha: float,
    min_cents: int = 1,
    max_cents: int | None = None,
) -> dict:
    """score_matrix of one registry algorithm, plus its claim, the first-share law fit and timings."""
    t0 = time.perf_counter()
    shares = split_matrix(
        algorithm, total=total, count=count, envelopes=envelopes, seed=seed, min_cents=min_cents, max_cents=max_cents
    )
    t1 = time.perf_counter()
    result = score_matrix(shares, alpha=alpha, total_cents=total, min_cents=min_cents, tie_seed=seed)
    t2 = time.perf_counter()
    result["claimed_position_fair"] = kernels.ALGORITHMS[algorithm].claims_position_fair(max_cents)
    result["theory"] = (
        theory.first_share_fit(shares[:, 0], algorithm, total, count, min_cents) if max_cents is None else None
    )
    result["split_seconds"] = t1 - t0
    result["score_seconds"] = t2 - t1
    return result


def score_allocator(
    func: Allocator,
    *,
    total: int,
    count: int,
    envelopes: int,
    seed: int,
    alpha: float,
    min_cents: int = 1,
    max_cents: int | None = None,
    claimed_position_fair: bool = True,
    advance: Callable[[int], None] | None = None,
) -> dict:
    """Exactness checks, then score_matrix, of a user allocator. A broken one gets
    ``{"broken": True, "exact": False, "position_fair": None, "exactness": {first_failure...}}``."""
    t0 = time.perf_counter()
    shares, exactness = run_allocator(
        func,
        total=total,
        count=count,
        envelopes=envelopes,
        seed=seed,
        min_cents=min_cents,
        max_cents=max_cents,
        advance=advance,
    )
    t1 = time.perf_counter()
    if shares is None:
        return {
            "broken": True,
            "exact": False,
            "exactness": exactness,
            "position_fair": None,
            "claimed_position_fair": claimed_position_fair,
            "p_values": {},
            "min_p_value": None,
        }
    result = score_matrix(shares, alpha=alpha, total_cents=total, min_cents=min_cents, tie_seed=seed)
    result["claimed_position_fair"] = claimed_position_fair
    result["theory"] = None
    result["split_seconds"] = t1 - t0
    result["score_seconds"] = time.perf_counter() - t1
    return result


def check_algorithms(names: Iterable[str]) -> list[str]:
    """Validate algorithm names (ValueError lists the known ones)."""
    names = list(names)
    for name in names:
        registry.algorithm(name)
    return names


def scorecard(
    algorithms: Iterable[str],
    *,
    total: int,
    count: int,
    envelopes: int,
    seed: int,
    alpha: float = 0.01,
    min_cents: int = 1,
    max_cents: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Score each named algorithm on ``envelopes`` envelopes of ``total`` cents for ``count`` people.

    Returns the fairness.json document: {"schema", "alpha", "total_cents", "count", "envelopes",
    "seed", "min_cents", "max_cents", "algorithms": {name: score_matrix(...) + claimed_position_fair}}.
    """
    names = check_algorithms(algorithms)
    kernels.check(total, count, algorithm=names[0] if names else "line_cut", min_cents=min_cents, max_cents=max_cents)
    if envelopes < 2:
        raise ValueError(f"envelopes must be >= 2 (got {envelopes})")
    doc = new_document(
        alpha=alpha, total=total, count=count, envelopes=envelopes, seed=seed, min_cents=min_cents, max_cents=max_cents
    )
    for name in names:
        if progress:
            progress(name)
        doc["algorithms"][name] = score_algorithm(
            name,
            total=total,
            count=count,
            envelopes=envelopes,
            seed=seed,
            alpha=alpha,
            min_cents=min_cents,
            max_cents=max_cents,
        )
    return doc


def new_document(
    *, alpha: float, total: int, count: int, envelopes: int, seed: int, min_cents: int, max_cents: int | None
) -> dict:
    return {
        "schema": SCHEMA,
        "alpha": alpha,
        "total_cents": total,
        "count": count,
        "envelopes": envelopes,
        "seed": seed,
        "min_cents": min_cents,
        "max_cents": max_cents,
        "algorithms": {},
    }


def claims_hold(doc: dict) -> bool:
    """True when every scored entry's verdict matches its claimed position fairness.

    A forced split (no share varies, e.g. count = 1) cannot show unfairness: it is not held
    against an algorithm that claims to be unfair."""
    return all(
        entry.get("position_fair") == entry.get("claimed_position_fair")
        for entry in doc["algorithms"].values()
        if not entry.get("broken") and entry.get("testable", True)
    )
