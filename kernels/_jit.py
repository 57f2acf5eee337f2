"""The one place that sets Numba's flags for the kit's kernels, and where their compiled code lives.

``cache=True`` so a second process skips compilation; never ``fastmath``: shares are integer
cents and the float paths (beta, line-cut skips) must round the same way as the Python reference.

Numba keys a cached entry point by its own file only, so an edit to a function it inlines from
another file (rng.py's mixer into steps.py's rows) would leave the old machine code in use (numba
issues #1833, #9483). Every kernel of this package is therefore cached in a folder named by
:func:`cache_key`: a hash of every source file of the package, the numba, llvmlite and numpy
versions, Python's version and the CPU Numba compiles for. A change to any of these is a new
folder; folders unused for :data:`PRUNE_AFTER_DAYS` are deleted. The folder is under
``$HONGBAO_CACHE_DIR`` (default ``~/.cache/hongbao/numba``), never beside the installed sources.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import llvmlite
import numba
import numpy

PACKAGE_DIR = Path(__file__).resolve().parent
PRUNE_AFTER_DAYS = 14


def cache_root() -> Path:
    """Where the keyed folders live: $HONGBAO_CACHE_DIR, else $XDG_CACHE_HOME/hongbao/numba."""
    if os.environ.get("HONGBAO_CACHE_DIR"):
        return Path(os.environ["HONGBAO_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hongbao" / "numba"


def cpu_name() -> str:
    """The CPU Numba generates code for (NUMBA_CPU_NAME overrides the host's)."""
    config: Any = numba.config  # its settings are set from the environment at import
    if config.CPU_NAME:
        return f"{config.CPU_NAME}:{config.CPU_FEATURES or ''}"
    import llvmlite.binding as ll

    return ll.get_host_cpu_name()


def cache_key(package_dir: Path = PACKAGE_DIR) -> str:
    """A hash of every ``*.py`` of the package (names and bytes) and of the toolchain."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    toolchain = (numba.__version__, llvmlite.__version__, numpy.__version__, sys.version, cpu_name())
    digest.update(repr(toolchain).encode())
    return digest.hexdigest()[:20]


def prune(root: Path, keep: str, older_than_s: float) -> list[Path]:
    """Delete the keyed folders under ``root`` other than ``keep`` unused for ``older_than_s``."""
    removed = []
    cutoff = time.time() - older_than_s
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.name != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _prepare_cache_dir() -> str:
    root = cache_root()
    key = cache_key()
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # marks it used, for prune()
    prune(root, key, PRUNE_AFTER_DAYS * 86400)
    return str(folder)


CACHE_DIR = _prepare_cache_dir()


def _in_cache_dir(decorator):
    """Apply a Numba decorator with config.CACHE_DIR pointing at this package's keyed folder.

    Numba picks a function's cache folder when the function is decorated, so the setting is
    needed only for that moment, and other Numba users in the process keep their own."""

    def apply(func):
        saved = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = CACHE_DIR
        try:
            return decorator(func)
        finally:
            numba.config.CACHE_DIR = saved

    return apply


def jit(*args, **kwargs):
    """``numba.njit`` with the kit's defaults (cache on, fastmath off)."""
    kwargs.setdefault("cache", True)
    kwargs.setdefault("fastmath", False)
    kwargs.setdefault("nogil", True)
    kwargs.setdefault("error_model", "numpy")  # no ZeroDivisionError branch on every // (divisors are >= 1)
    decorate = _in_cache_dir(numba.njit(**kwargs))
    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


def jit_parallel(*args, **kwargs):
    """Like :func:`jit` with ``parallel=True`` for the ``prange`` batch kernels."""
    kwargs["parallel"] = True
    return jit(*args, **kwargs)


def jit_inline(*args, **kwargs):
    """Like :func:`jit`, inlined into its callers at Numba IR level: for the tiny RNG and step
    functions called once per share, where a call costs as much as the work."""
    kwargs["inline"] = "always"
    return jit(*args, **kwargs)
