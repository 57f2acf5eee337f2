"""Compiled kernels never outlive their sources (kernels/_jit.py).

Numba keys a cached entry point by its own file only, so an edit to rng.py's mixer, inlined into
the batch kernels of other files, would leave the old machine code in use. The kit's cache folder is
keyed by every source file of the package, so that edit must reach the compiled kernels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hongbao import kernels
from hongbao.kernels import _jit

KERNELS_DIR = Path(kernels.__file__).parent
SPLIT = (
    "import numpy as np, {name} as k; "
    "out = k.split_batch(np.array([10_000, 777], dtype=np.int64), 10, algorithm='double_mean', seed=3, "
    "parallel=False); print(out.tolist()); "
    "print(sum(d.stats.cache_hits.total() for d in [k._batch.split_fixed_serial]))"
)


def _copy(tmp_path: Path, name: str = "kcopy") -> Path:
    target = tmp_path / "pkgs" / name
    shutil.copytree(KERNELS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _split_in_child(tmp_path: Path, name: str = "kcopy") -> tuple[str, str]:
    env = dict(os.environ, HONGBAO_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path / "pkgs"))
    done = subprocess.run(
        [sys.executable, "-c", SPLIT.format(name=name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shares, hits = done.stdout.split("\n")[:2]
    return shares, hits


@pytest.mark.slow  # compiles a copy of the kernels twice, from an empty cache
def test_an_edit_to_an_inlined_helper_in_another_file_reaches_the_compiled_kernels(tmp_path):
    package = _copy(tmp_path)
    first, hits = _split_in_child(tmp_path)
    again, hits_again = _split_in_child(tmp_path)
    assert again == first and int(hits_again) >= 1, "the second process should load from the cache"
    rng = package / "rng.py"
    source = rng.read_text()
    assert "z = (z ^ (z >> _U30)) * _U_M1" in source
    rng.write_text(source.replace("z = (z ^ (z >> _U30)) * _U_M1", "z = (z ^ (z >> _U27)) * _U_M1", 1))
    edited, _ = _split_in_child(tmp_path)
    assert edited != first, "the edit to rng.mix64 did not reach the batch kernel (stale machine code)"
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2


def test_cache_key_covers_every_source_file_and_the_toolchain(tmp_path):
    package = _copy(tmp_path)
    key = _jit.cache_key(package)
    assert key == _jit.cache_key(package)
    (package / "registry.py").write_text((package / "registry.py").read_text() + "\n# a comment\n")
    assert _jit.cache_key(package) != key
    assert _jit.cache_key(KERNELS_DIR) == Path(_jit.CACHE_DIR).name


def test_the_kernels_are_cached_outside_the_package():
    assert not Path(_jit.CACHE_DIR).resolve().is_relative_to(KERNELS_DIR)
    assert kernels._batch.split_fixed_serial._cache.cache_path.startswith(_jit.CACHE_DIR)


def test_prune_removes_only_old_folders_other_than_the_current_one(tmp_path):
    for name in ("old", "current", "recent"):
        (tmp_path / name).mkdir()
    long_ago = time.time() - 30 * 86400
    os.utime(tmp_path / "old", (long_ago, long_ago))
    os.utime(tmp_path / "current", (long_ago, long_ago))
    removed = _jit.prune(tmp_path, keep="current", older_than_s=14 * 86400)
    assert removed == [tmp_path / "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "recent"]
