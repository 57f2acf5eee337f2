"""Start, kill, restart, pause and resume the example yuan service from the shell, the way a team
drives its own service with docker or systemctl: the ``--nemesis-cmd`` commands of the nemesis tests.

    python tests/support/yuan_ctl.py start|kill|restart|pause|resume STATE_DIR

STATE_DIR holds ``args`` (the service's arguments, one per line, written by the test), ``pid`` and
``service.log``. Only the PID in ``pid`` is ever signalled. ``start`` returns at once: readiness is
the adapter's ``ready``, as for any service.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def _running(state: Path) -> psutil.Process | None:
    try:
        proc = psutil.Process(int((state / "pid").read_text()))
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except (FileNotFoundError, ValueError, psutil.Error):
        return None


def _gone(proc: psutil.Process, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
    raise SystemExit(f"pid {proc.pid} still running after {timeout_s} s")


def start(state: Path) -> None:
    args = (state / "args").read_text().split("\n")
    with open(state / "service.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hongbao.loadtests.examples.yuan_service", *[a for a in args if a]],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (state / "pid").write_text(str(proc.pid))


def main(action: str, state: Path) -> None:
    proc = _running(state)
    if action == "start":
        start(state)
    elif action == "kill" and proc:
        proc.send_signal(signal.SIGKILL)
        _gone(proc)
    elif action == "restart":
        if proc:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
            _gone(proc)
        start(state)
    elif action in ("pause", "resume") and proc:
        proc.send_signal(signal.SIGSTOP if action == "pause" else signal.SIGCONT)
    elif proc is None and action != "kill":
        raise SystemExit(f"{action}: the service is not running")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
