"""A temporary git repository whose history plants a slowdown in kernels/ at a known commit.

Every commit's ``kernels/`` is a small package that runs the installed kit's compiled kernels (so no
commit needs its own Numba compilation) and records its place in the history; from the planted
commit on, ``split_batch`` also re-splits the first ``SLOWDOWN`` share of each batch into the rows
the full split then overwrites, as tests/support/slowed_kernel.py plants a slowdown: the result is
the real split, the extra time scales with the batch like a slower kernel's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

KERNELS = '''"""Kernels at commit {index} of a test history: the installed kit's, slowed by {slowdown:.0%}."""
import importlib

import numpy as np

_real = importlib.import_module("hongbao.kernels")
ALGORITHMS = _real.ALGORITHMS
COMMIT = {index}
SLOWDOWN = {slowdown}


def split_batch(totals, counts, **kwargs):
    if SLOWDOWN:
        totals = np.asarray(totals)
        extra = max(1, int(round(totals.shape[0] * SLOWDOWN)))
        more = {{k: v for k, v in kwargs.items() if k != "out"}}
        if kwargs.get("out") is not None:
            more["out"] = kwargs["out"][:extra]
        _real.split_batch(totals[:extra], counts, **more)
    return _real.split_batch(totals, counts, **kwargs)
'''


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def make_history(repo: Path, commits: int, planted_at: int | None, slowdown: float = 0.30) -> list[str]:
    """A repository of ``commits`` commits (0 first); from commit ``planted_at`` on (None: never)
    the kernels are ``slowdown`` slower. Returns the commit ids, oldest first."""
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "bench@example.invalid")
    git(repo, "config", "user.name", "bench")
    shas = []
    for i in range(commits):
        slow = slowdown if planted_at is not None and i >= planted_at else 0.0
        (repo / "kernels").mkdir(exist_ok=True)
        (repo / "kernels" / "__init__.py").write_text(KERNELS.format(index=i, slowdown=slow))
        git(repo, "add", "-A")
        subject = "kernels: re-split a share of each batch" if i == planted_at else f"kernels: commit {i}"
        git(repo, "commit", "--quiet", "-m", subject)
        shas.append(git(repo, "rev-parse", "HEAD"))
    return shas
