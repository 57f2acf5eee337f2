"""What each algorithm is, by name: its numeric code for the kernels and the properties users pick on."""

from __future__ import annotations

from dataclasses import dataclass

DOUBLE_MEAN, LINE_CUT, NAIVE, EQUAL, BETA = 0, 1, 2, 3, 4

#: Concentration ``c`` of the beta rule: the share of the remaining excess is Beta(c, c*(k-1)),
#: the stick-breaking form of a symmetric Dirichlet(c, ..., c): exchangeable across positions.
#: Fixed at 2: the kernels draw each Gamma(2) as -log(u1 u2) (kernels.rng.gamma2).
BETA_CONCENTRATION = 2.0


@dataclass(frozen=True)
class Algorithm:
    name: str
    code: int
    online: bool  # can draw the next share at grab time from (remaining, count left)
    position_fair: bool  # expected share and its spread are the same at every grab position
    integer_only: bool  # uses integer draws only: Python and Numba agree share for share
    summary: str
    fair_with_cap: bool = True  # still position-fair when a max_cents cap binds
    twin_exact: bool = True  # kernels/reference.py returns the kernel's shares bit for bit
    version: int = 1  # bumped whenever the shares for given inputs change

    def claims_position_fair(self, max_cents: int | None = None) -> bool:
        """The fairness claim for these settings: a cap can break it (beta's clipping moves money
        to the last grabbers)."""
        return self.position_fair and (max_cents is None or self.fair_with_cap)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "double_mean",
            DOUBLE_MEAN,
            True,
            False,
            True,
            "WeChat's rule: uniform in [min, 2 x remaining / people left); the last takes the rest. "
            "Equal means by position, variance rising with position.",
        ),
        Algorithm(
            "line_cut",
            LINE_CUT,
            False,
            True,
            False,
            "Exactly uniform random composition: N-1 distinct cuts of the line (few cuts: sorted "
            "distinct uniform points; else Vitter's method D; over 65,536 cuts: blocks in "
            "parallel), O(N) time and memory. Exchangeable.",
            twin_exact=False,
            version=3,
        ),
        Algorithm(
            "naive",
            NAIVE,
            True,
            False,
            True,
            "Uniform over whatever keeps the rest feasible: the first grabber takes about half. "
            "The known-unfair baseline.",
        ),
        Algorithm(
            "equal",
            EQUAL,
            True,
            True,
            True,
            "Everyone gets total // count; the remainder cents go to a uniformly random subset.",
        ),
        Algorithm(
            "beta",
            BETA,
            True,
            True,
            False,
            f"Share of the remaining excess ~ Beta(c, c(k-1)), c={BETA_CONCENTRATION}: a Dirichlet "
            "stick-breaking that is computable at grab time yet position-fair (uncapped: a binding "
            "max_cents clips early shares and favours the last grabbers).",
            fair_with_cap=False,
            version=2,
        ),
    )
}

_BY_CODE = {a.code: a for a in ALGORITHMS.values()}


def algorithm(name: str) -> Algorithm:
    """Look an algorithm up by name; ValueError lists the known names."""
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        raise ValueError(f"algorithm must be one of {', '.join(sorted(ALGORITHMS))} (got {name!r})") from None


def by_code(code: int) -> Algorithm:
    return _BY_CODE[code]
