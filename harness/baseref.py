"""The kernels as they were at a git commit, importable beside the working ones in one process.

The regression gate times the base commit's kernels and the working kernels round by round in the
same process (``hongbao bench --base-ref REF``), so a slow or fast spell of a shared host falls on
both sides of each ratio. To import two versions of one package at once, the base commit's
``kernels/`` is extracted with ``git archive`` under another package name, ``kernels_at_<sha12>``,
and its own ``from kernels...`` imports are pointed at that name: the code is otherwise the
commit's, byte for byte (kernels that import each other relatively need nothing; absolute
``kernels`` or ``hongbao.kernels`` imports are repointed). The commit is looked up in the git
repository of the current folder, and the copy lives in ``./results/.base-kernels/<sha>/``
(git-ignored), so Numba's on-disk cache serves later runs against the same commit.

Both sides must reach the timing process the same way. A kernel JIT-compiled in the process and the
same kernel loaded from Numba's cache do not run at the same speed: identical code compiled fresh
differs from its cache-loaded copy by several percent, in either direction, far more than two cache
loads differ from each other. :func:`prime_caches` therefore compiles every batch kernel of both
packages in a child process first, and the benchmark process loads both from the cache.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from hongbao.harness.results import UnusableInput
from hongbao.harness.rundirs import results_dir

FOLDER = "kernels"  # the kernels' folder in a commit's tree
PACKAGE = "hongbao.kernels"  # the working kernels' import name

_IMPORT = re.compile(r"^(\s*)(from|import)\s+(?:hongbao\.)?kernels(?=[\s.])", re.MULTILINE)


def default_repo() -> Path:
    return Path.cwd()


def default_cache() -> Path:
    return results_dir() / ".base-kernels"


def alias(sha: str) -> str:
    """The package name a commit's kernels are imported under."""
    return f"{FOLDER}_at_{sha[:12]}"


def resolve(ref: str, repo: Path | None = None) -> str:
    """The full commit id of ``ref``; UnusableInput naming --base-ref when git cannot find it."""
    repo = repo or default_repo()
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnusableInput(f"--base-ref {ref}: cannot run git ({exc})") from None
    if done.returncode != 0:
        raise UnusableInput(
            f"--base-ref {ref}: no such commit in {repo} (a shallow clone may lack it: git fetch --unshallow)"
        )
    return done.stdout.strip()


def repoint_imports(source: str, name: str) -> str:
    """``from kernels.x import y`` / ``import hongbao.kernels`` -> the same from package ``name``."""
    return _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} {name}", source)


def extract(sha: str, repo: Path | None = None, cache: Path | None = None) -> Path:
    """Write commit ``sha``'s kernels/ as package ``alias(sha)`` under ``cache/<sha>/``; return that folder."""
    repo, cache = repo or default_repo(), cache or default_cache()
    root = cache / sha
    name = alias(sha)
    package = root / name
    if (package / "__init__.py").is_file():
        return root
    done = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", sha, FOLDER], capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise UnusableInput(
            f"--base-ref {sha[:12]}: git archive found no {FOLDER}/ at that commit "
            f"({done.stderr.decode(errors='replace').strip()})"
        )
    staging = root / f".{name}.partial"
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(FOLDER + "/"):
                continue
            target = staging / member.name[len(FOLDER) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file (member.isfile() above) always has contents
            data = source.read()
            if target.suffix == ".py":
                data = repoint_imports(data.decode(), name).encode()
            target.write_bytes(data)
    if not (staging / "__init__.py").is_file():
        raise UnusableInput(f"--base-ref {sha[:12]}: {FOLDER}/__init__.py is missing at that commit")
    staging.rename(package)  # whole or not at all: a crash mid-extract leaves only the .partial folder
    return root


def kernels_at(ref: str, repo: Path | None = None, cache: Path | None = None) -> ModuleType:
    """Import commit ``ref``'s kernels package (as ``kernels_at_<sha12>``) and return it."""
    repo, cache = repo or default_repo(), cache or default_cache()
    sha = resolve(ref, repo)
    root = extract(sha, repo, cache)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module(alias(sha))
    if not callable(getattr(module, "split_batch", None)):
        raise UnusableInput(f"--base-ref {ref}: {FOLDER} at {sha[:12]} has no split_batch")
    vars(module)["BASE_COMMIT"] = sha
    return module


def prime_caches(
    packages: list[str], repo: Path | None = None, cache: Path | None = None, timeout: float = 900
) -> None:
    """Compile the batch kernels of ``packages`` ("kernels", or a commit id for its extracted copy)
    into Numba's on-disk cache, in a child process, for every algorithm, serial and parallel, with
    the argument types the benchmark suites use."""
    repo, cache = repo or default_repo(), cache or default_cache()
    done = subprocess.run(
        [sys.executable, "-m", "hongbao.harness.baseref", "--prime", str(repo), str(cache), *packages],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise UnusableInput(f"--base-ref: compiling the kernels into Numba's cache failed:\n{done.stderr[-2000:]}")


def _prime(repo: Path, cache: Path, packages: list[str]) -> None:
    import numpy as np

    totals = np.array([1_000, 20_000], dtype=np.int64)
    for name in packages:
        module = importlib.import_module(PACKAGE) if name in (FOLDER, PACKAGE) else kernels_at(name, repo, cache)
        for algorithm in module.ALGORITHMS:
            for parallel in (False, True):
                module.split_batch(
                    totals,
                    2,
                    algorithm=algorithm,
                    min_cents=1,
                    seed=1,
                    parallel=parallel,
                    out=np.empty((2, 2), dtype=np.int64),
                )


if __name__ == "__main__":
    if sys.argv[1:2] != ["--prime"] or len(sys.argv) < 5:
        raise SystemExit("usage: python -m hongbao.harness.baseref --prime REPO CACHE PACKAGE...")
    _prime(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
