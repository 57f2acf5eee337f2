"""Named exit codes shared by every ``hongbao`` command.

They live in loadtests/, the lower of the two layers (harness/ imports loadtests/, never the other
way round), so that a storm, a soak and the CLI's bench and compare commands end with the same codes.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    REGRESSION = 1  # compare: a significant regression; fairness: an algorithm failed its claim
    UNUSABLE = 2  # missing file, wrong format, bad arguments, setup that cannot run
    SLO_BREACH = 3  # storm: a latency/error SLO was missed
    AUDIT_FAILED = 4  # storm/fairness: money not conserved, double grab, broken allocator
    INCONCLUSIVE = 5  # compare: no regression shown, but the data cannot decide for some gated benchmark
