"""harness.baseref: a git commit's kernels imported beside the working ones, under another name."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hongbao import kernels
from hongbao.harness import baseref
from hongbao.harness.results import UnusableInput
from tests.support.bench_runs import REPO, hongbao


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_imports_of_the_package_are_repointed_and_nothing_else():
    source = (
        "from kernels import rng\nfrom kernels._jit import jit\n    from kernels.steps import a, b\n"
        "import kernels\nimport kernels.batch as kb\nfrom kernelsx import y\n"
        "NAME = 'kernels.baseline'\n# see kernels/steps.py\n"
    )
    out = baseref.repoint_imports(source, "kernels_at_abc")
    assert out.splitlines() == [
        "from kernels_at_abc import rng",
        "from kernels_at_abc._jit import jit",
        "    from kernels_at_abc.steps import a, b",
        "import kernels_at_abc",
        "import kernels_at_abc.batch as kb",
        "from kernelsx import y",
        "NAME = 'kernels.baseline'",
        "# see kernels/steps.py",
    ]


def test_a_commit_is_loaded_as_committed_not_as_in_the_working_tree(tmp_path):
    repo = tmp_path / "repo"
    (repo / "kernels").mkdir(parents=True)
    (repo / "kernels" / "__init__.py").write_text(
        "from kernels.part import VALUE\n\ndef split_batch(*a, **k):\n    return VALUE\n"
    )
    (repo / "kernels" / "part.py").write_text("VALUE = 1\n")
    _git(tmp_path, "init", "-q", str(repo))
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    sha = _git(repo, "rev-parse", "HEAD")
    (repo / "kernels" / "part.py").write_text("VALUE = 2\n")  # working tree differs from the commit

    module = baseref.kernels_at("HEAD", repo=repo, cache=tmp_path / "cache")
    assert module.__name__ == f"kernels_at_{sha[:12]}" and module.BASE_COMMIT == sha
    assert module.split_batch() == 1
    assert sys.modules[f"kernels_at_{sha[:12]}.part"].__file__.startswith(str(tmp_path / "cache" / sha))
    assert baseref.extract(sha, repo, tmp_path / "cache") == tmp_path / "cache" / sha  # reused, not re-extracted


@pytest.fixture(scope="module")
def head_base(head_kernels_cache):
    """The project's HEAD kernels, compiled into Numba's cache by a child process, then imported here."""
    cache = head_kernels_cache
    sha = baseref.resolve("HEAD", REPO)
    baseref.extract(sha, REPO, cache)
    baseref.prime_caches([sha], REPO, cache)
    return baseref.kernels_at(sha, REPO, cache), cache


@pytest.mark.slow  # compiles HEAD's kernels whenever HEAD moves
def test_the_project_head_splits_exactly_like_the_working_kernels(head_base):
    base, cache = head_base
    assert base.batch is not kernels.batch and base.rng is not kernels.rng
    totals = np.array([100, 5_000, 123_456, 10**9], dtype=np.int64)
    for algorithm in ("double_mean", "line_cut", "naive", "equal", "beta"):
        ours = kernels.split_batch(totals, 7, algorithm=algorithm, seed=11)
        theirs = base.split_batch(totals, 7, algorithm=algorithm, seed=11)
        assert np.array_equal(ours, theirs), algorithm
    package_dir = cache / base.BASE_COMMIT
    for name, module in list(sys.modules.items()):
        if name.startswith(base.__name__ + "."):
            assert module.__file__.startswith(str(package_dir)), name


@pytest.mark.slow  # compiles HEAD's kernels whenever HEAD moves
def test_primed_kernels_are_loaded_from_numbas_cache_not_compiled_here(head_base):
    """A kernel compiled in the timing process runs at another speed than the same kernel loaded
    from the cache (module docstring), so both sides of a same-run pair must be cache loads."""
    base, _ = head_base
    totals = np.array([1_000, 20_000, 30_000], dtype=np.int64)
    for parallel, kernel in ((False, base.batch.split_fixed_serial), (True, base.batch.split_fixed_parallel)):
        base.split_batch(
            totals, 10, algorithm="double_mean", seed=3, parallel=parallel, out=np.empty((3, 10), dtype=np.int64)
        )
        assert sum(kernel.stats.cache_hits.values()) >= 1 and not kernel.stats.cache_misses, kernel


def test_unknown_ref_is_refused_naming_the_flag(tmp_path):
    with pytest.raises(UnusableInput, match=r"--base-ref no-such-ref-xyz: no such commit"):
        baseref.kernels_at("no-such-ref-xyz", cache=tmp_path)
    res = hongbao(
        "bench", "--filter", "double_mean-serial-c10", "--base-ref", "no-such-ref-xyz", "--out", str(tmp_path / "run")
    )
    assert res.returncode == 2 and "--base-ref no-such-ref-xyz: no such commit" in res.stderr
    assert not (tmp_path / "run").exists()


def test_a_commit_without_kernels_is_refused(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(tmp_path, "init", "-q", str(repo))
    (repo / "README").write_text("x\n")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    with pytest.raises(UnusableInput, match="no kernels/ at that commit"):
        baseref.kernels_at("HEAD", repo=repo, cache=tmp_path / "cache")
