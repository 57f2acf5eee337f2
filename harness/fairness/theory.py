"""Exact laws of the first grabber's share, where the algorithm has one, and a goodness-of-fit test.

Uncapped envelopes of ``total`` cents for ``count`` people with floor ``m``:

- line_cut: shares minus (m-1) are a uniform composition of P = T - N(m-1) into N positive parts,
  so P(first part > j) = C(P-1-j, N-1) / C(P-1, N-1) (the same law at every position).
- double_mean: uniform on [m, min(largest integer < 2T/N, T-(N-1)m)].
- naive: uniform on [m, T-(N-1)m].
- equal: T//N + 1 with probability (T mod N)/N, else T//N.
- beta: m + round(excess x B), B ~ Beta(c, c(N-1)), excess = T - Nm (round half up).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special
from scipy import stats as sps

from hongbao.kernels.registry import BETA_CONCENTRATION

MIN_EXPECTED = 5.0
CANDIDATE_BINS = 40


def _uniform_cdf(lo: int, hi: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.clip((np.floor(x) - lo + 1) / (hi - lo + 1), 0.0, 1.0)


def first_share_law(
    algorithm: str, total: int, count: int, min_cents: int = 1
) -> tuple[str, int, int, Callable] | None:
    """(description, lowest share, highest share, CDF) of position 0's share, or None if no law."""
    T, N, m = int(total), int(count), int(min_cents)
    if N < 2:
        return None
    top_feasible = T - (N - 1) * m
    if algorithm == "line_cut":
        P = T - N * (m - 1)
        log_all = special.gammaln(P) - special.gammaln(P - N + 1)

        def cdf(x):
            j = np.floor(np.asarray(x, dtype=np.float64)) - (m - 1)
            k = P - 1 - j  # C(k, N-1) / C(P-1, N-1) = P(first part > j)
            with np.errstate(invalid="ignore"):
                tail = np.where(
                    k >= N - 1,
                    np.exp(special.gammaln(np.maximum(k, 0) + 1) - special.gammaln(np.maximum(k - N + 2, 1)) - log_all),
                    0.0,
                )
            return np.where(j < 1, 0.0, np.clip(1.0 - tail, 0.0, 1.0))

        return "uniform composition marginal", m, top_feasible, cdf
    if algorithm == "double_mean":
        hi = max(m, min((2 * T - 1) // N, top_feasible))
        return f"uniform on [{m}, {hi}]", m, hi, _uniform_cdf(m, hi)
    if algorithm == "naive":
        return f"uniform on [{m}, {top_feasible}]", m, top_feasible, _uniform_cdf(m, top_feasible)
    if algorithm == "equal":
        q, r = divmod(T, N)
        return (
            f"{q} or {q + 1} with P={r}/{N}",
            q,
            q + (r > 0),
            lambda x: np.where(np.asarray(x) < q, 0.0, np.where(np.asarray(x) < q + 1, 1 - r / N, 1.0)),
        )
    if algorithm == "beta":
        excess = T - N * m
        c = BETA_CONCENTRATION
        if excess == 0:
            return f"always {m}", m, m, lambda x: np.where(np.asarray(x) < m, 0.0, 1.0)

        def cdf(x):
            xs = np.floor(np.asarray(x, dtype=np.float64)) - m
            return np.where(xs < 0, 0.0, np.where(xs >= excess, 1.0, sps.beta.cdf((xs + 0.5) / excess, c, c * (N - 1))))

        return f"{m} + round({excess} x Beta({c:g}, {c * (N - 1):g}))", m, T - (N - 1) * m, cdf
    return None


def _edges(lo: int, hi: int, cdf, n_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer bin edges over [lo, hi] (bin i = [e_i, e_{i+1})), merged until each expects >= 5."""
    cand = np.unique(np.round(np.linspace(lo, hi + 1, CANDIDATE_BINS + 1)).astype(np.int64))
    probs = np.diff(cdf(cand - 1))
    edges, mass, acc = [int(cand[0])], [], 0.0
    for right, pr in zip(cand[1:], probs, strict=True):
        acc += pr
        if acc * n_obs >= MIN_EXPECTED:
            edges.append(int(right))
            mass.append(acc)
            acc = 0.0
    if acc > 0 and mass:
        edges[-1] = int(cand[-1])
        mass[-1] += acc
    elif not mass:
        edges, mass = [int(cand[0]), int(cand[-1])], [1.0]
    return np.array(edges, dtype=np.int64), np.array(mass)


def first_share_fit(first: np.ndarray, algorithm: str, total: int, count: int, min_cents: int = 1) -> dict | None:
    """Histogram of the first grabber's shares against the exact law, with a chi-squared GOF p-value."""
    law = first_share_law(algorithm, total, count, min_cents)
    if law is None:
        return None
    name, lo, hi, cdf = law
    n = int(first.shape[0])
    edges, mass = _edges(lo, hi, cdf, n)
    idx = np.searchsorted(edges, first, side="right") - 1
    outside = int(np.sum((idx < 0) | (idx >= mass.shape[0])))
    observed = np.bincount(idx[(idx >= 0) & (idx < mass.shape[0])], minlength=mass.shape[0])
    expected = mass / mass.sum() * n
    if mass.shape[0] < 2 or outside:
        p = 1.0 if not outside else 0.0
        stat = 0.0
    else:
        res = sps.chisquare(observed, expected)
        stat, p = float(res.statistic), float(res.pvalue)
    return {
        "position": 0,
        "law": name,
        "support": [lo, hi],
        "edges": edges.tolist(),
        "observed": observed.tolist(),
        "expected": expected.tolist(),
        "outside_support": outside,
        "chi2": stat,
        "df": int(mass.shape[0] - 1),
        "p_value": p,
    }
