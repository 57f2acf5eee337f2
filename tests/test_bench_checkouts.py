"""``hongbao bench`` runs the installed kit's suites whatever folder it stands in, including another
checkout or git worktree of this repository (whose harness/suites would otherwise shadow them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.bench_runs import REPO

TRIPWIRE = 'raise RuntimeError("the suites were imported from the current folder, not the installed kit")\n'


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_bench_runs_the_installed_suites_from_a_git_worktree_of_another_clone(tmp_path):
    clone, worktree = tmp_path / "clone", tmp_path / "worktree"
    _git("clone", "--quiet", "--local", "--no-hardlinks", str(REPO), str(clone), cwd=tmp_path)
    _git("worktree", "add", "--quiet", "--detach", str(worktree), "HEAD", cwd=clone)
    for name in ("conftest.py", "bench_kernels.py"):  # the worktree's own copies must never run
        suite = worktree / "harness" / "suites" / name
        suite.write_text(TRIPWIRE + suite.read_text())
    out = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hongbao.harness.cli",
            "bench",
            "--filter",
            "double_mean-serial-c10-",
            "--out",
            str(out),
        ],
        cwd=worktree,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((out / "benchmark.json").read_text())
    assert [b["name"] for b in doc["benchmarks"]] == ["bench_split[double_mean-serial-c10-n20000]"]
