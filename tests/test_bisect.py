"""``hongbao bisect``: the bisection's logic on constructed judgements, then real runs on a temporary
history with a slowdown planted at a known commit (tests/support/planted_history.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hongbao.harness import compare as cmp
from hongbao.harness.commands import bisect as bs
from tests.support.planted_history import make_history

FILTER = "double_mean-serial-c10-"


def _judge(ratios: list[tuple[float, float, float]]):
    """A judge reading each commit's (change, low, high) from ``ratios`` (index 1 = first after GOOD)."""
    seen = []

    def judge(commit, index, bad):
        change, lo, hi = ratios[index - 1]
        verdict = cmp.REGRESSION if lo > 1.02 else cmp.SLOWER if lo > 1.0 else cmp.SAME
        cases = [bs.Case("x-serial-c10-n1", change, (lo, hi), 0.001, verdict)]
        step = bs.Step(commit["commit"], commit["subject"], index, cases)
        step.call = bs.call(cases, bad, 0.02)
        seen.append(index)
        return step

    return judge, seen


def _commits(n: int) -> list[dict]:
    return [{"commit": f"{i:040d}", "subject": f"c{i}"} for i in range(1, n + 1)]


CLEAN, STEP = (0.0, 0.99, 1.01), (0.30, 1.25, 1.35)


@pytest.mark.parametrize("planted", [1, 2, 4, 7])
def test_bisection_names_the_first_slower_commit_in_about_log2_steps(planted):
    judge, seen = _judge([CLEAN] * (planted - 1) + [STEP] * (8 - planted))  # commits 1..7 after GOOD
    result, first, steps = bs.bisect(_commits(7), judge)
    assert (result, first) == (bs.FOUND, planted)
    assert seen[0] == 7 and len(steps) <= 4 and steps[-1].left == 0


def test_no_slowdown_and_undecided_steps_are_said_so():
    judge, seen = _judge([CLEAN] * 7)
    assert bs.bisect(_commits(7), judge)[:2] == (bs.NONE, None) and seen == [7]
    halfway = (0.05, 1.00, 1.30)  # neither above the allowance nor below BAD's interval
    judge, _ = _judge([CLEAN, CLEAN, CLEAN, halfway, STEP, STEP, STEP])
    result, first, steps = bs.bisect(_commits(7), judge)
    assert (result, first) == (bs.CANNOT_DECIDE, None) and steps[-1].call == bs.UNDECIDED


def test_a_first_step_that_explains_only_part_of_bad_is_reported():
    small, big = (0.10, 1.07, 1.13), (0.30, 1.25, 1.35)
    judge, _ = _judge([CLEAN, CLEAN, small, small, big, big, big])
    result, first, steps = bs.bisect(_commits(7), judge)
    assert (result, first) == (bs.FOUND, 3)
    first_step = next(s for s in steps if s.index == 3)
    notes = bs.more_than_one_step(first_step, steps[0], [])
    assert notes and "explains only part of BAD's slowdown" in notes[0]


def test_the_range_holds_only_the_commits_that_change_the_kernels(tmp_path, monkeypatch):
    from tests.support.planted_history import git

    repo = tmp_path / "repo"
    shas = make_history(repo, 3, planted_at=None)
    (repo / "NOTES.md").write_text("not a kernel\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "notes")
    monkeypatch.chdir(repo)
    total, commits = bs.commit_range(shas[0], "HEAD")
    assert total == 3 and [c["commit"] for c in commits] == shas[1:]
    assert commits[0]["subject"] == "kernels: commit 1"
    assert bs.commit_range(shas[-1], "HEAD") == (1, [])
    with pytest.raises(bs.UnusableInput, match="is not an ancestor"):
        bs.commit_range(shas[-1], shas[0])


def _bisect(repo: Path, good: str, bad: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "hongbao.harness.cli",
            "bisect",
            good,
            bad,
            "--filter",
            FILTER,
            "--processes",
            "3",
            "--max-time",
            "0.05",
            "--out",
            str(out),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_bisect_names_the_planted_commit_of_a_real_history(tmp_path):
    shas = make_history(tmp_path / "repo", 8, planted_at=5)
    res = _bisect(tmp_path / "repo", shas[0], shas[-1], tmp_path / "out")
    assert res.returncode == 1, res.stdout + res.stderr
    doc = json.loads((tmp_path / "out" / "bisect.json").read_text())
    assert doc["result"] == bs.FOUND and doc["first_slower"]["commit"] == shas[5]
    assert f"First slower commit: {shas[5]} kernels: re-split a share of each batch" in res.stdout
    assert len(doc["steps"]) <= 4 and doc["steps"][0]["commit"] == shas[-1]
    assert all(s["cases"][0]["name"] == "double_mean-serial-c10-n20000" for s in doc["steps"])


@pytest.mark.slow
def test_bisect_says_when_the_history_holds_no_slowdown(tmp_path):
    shas = make_history(tmp_path / "repo", 8, planted_at=None)
    res = _bisect(tmp_path / "repo", shas[0], shas[-1], tmp_path / "out")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "out" / "bisect.json").read_text())
    assert doc["result"] == bs.NONE and doc["first_slower"] is None and len(doc["steps"]) == 1
    assert "No slowdown" in res.stdout
