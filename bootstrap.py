#!/usr/bin/env python3
"""Set-up in one command: make .venv, install the kit into it, then run the main job or the tests.

    python3 bootstrap.py run   [hongbao run options]  # the main job (report under results/)
    python3 bootstrap.py test  [pytest options]       # the whole test suite, Redis tests included
    python3 bootstrap.py test -m "not slow"           # the quick loop (under 2 minutes)
    python3 bootstrap.py check                        # ruff lint, ruff format --check, mypy

Only python3 (3.11+) and pip are needed. The tests also need a real ``redis-server``; when it is
missing and we are root on Debian/Ubuntu, it is installed with apt-get (otherwise the error says
how to install it). Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".hongbao-installed"
#: pytest-xdist workers, one per core: more overload a shared 2-core machine until services, storms
#: and benchmark runs miss their start-up deadlines
TEST_WORKERS = os.cpu_count() or 1


def _say(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (bootstrap runs under whatever python3 the machine has)
        sys.exit(f"hongbao-bench needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    _say(f"installing hongbao-bench[{extras}] into {VENV} (first run takes a minute or two)")
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(want)


def ensure_redis_server() -> None:
    if shutil.which("redis-server"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _say("redis-server not found: installing the Debian package (apt-get install redis-server)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
        # Debian starts a system redis on 6379; the tests start their own on free ports instead.
        subprocess.run(
            ["service", "redis-server", "stop"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return
    sys.exit(
        "the tests need a real redis-server on PATH: install it "
        "(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"
    )


def pytest_args(rest: list[str]) -> list[str]:
    """The suite in parallel (pytest-xdist, one worker per :data:`TEST_WORKERS` slot; a file's tests
    stay on one worker, so a module's server starts once), unless the caller chose ``-n N`` or ``-p no:xdist``."""
    if "no:xdist" in rest or any(a.startswith(("-n", "--numprocesses")) for a in rest):
        return rest
    return ["-n", str(TEST_WORKERS), "--dist", "loadfile", *rest]


def check() -> int:
    """ruff's lint and format check over the repository, then mypy over the package as installed:
    a non-editable copy in .venv/types-site, where ``hongbao.*`` resolves as it does for a user."""
    ensure_venv("test")
    codes = [
        subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT),
        subprocess.call([str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT),
    ]
    site = VENV / "types-site"
    shutil.rmtree(site, ignore_errors=True)
    # setuptools keeps modules in build/lib across builds: a module deleted from the tree would
    # still be installed (and type-checked) from there, so the install starts from the sources alone
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(ROOT)], check=True)
    mypy = [str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(VENV / "mypy-cache")]
    codes.append(subprocess.call(mypy + ["-p", "hongbao"], cwd=site))
    return max(codes)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "check"}:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    ensure_venv("test")
    if cmd == "run":
        return subprocess.call([str(BIN / "hongbao"), "run", *rest], cwd=ROOT)
    if cmd == "check":
        return check()
    ensure_redis_server()
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *pytest_args(rest)], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
