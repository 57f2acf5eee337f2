"""CPU sampling of the storm's processes (load generator, service, store) with psutil, by PID.

Each role names root PIDs; their child processes are included (Locust ``--processes`` workers,
uvicorn workers). ``cpu_percent`` is per core, as in ``top``: 200 = two cores busy.
"""
from __future__ import annotations

import threading
import time

import psutil


def pid_listening_on(port: int) -> int | None:
    """The PID of a local process listening on TCP ``port`` (e.g. a redis-server we did not
    start), or None when it cannot be seen (another user's process, no permission)."""
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
    except (psutil.AccessDenied, PermissionError):
        return None
    return None


class CpuMonitor:
    """Samples CPU of each role every ``interval_s`` in a background thread until ``stop()``."""

    def __init__(self, roles: dict[str, list[int]], interval_s: float = 0.5) -> None:
        self.roles = {r: [p for p in pids if p] for r, pids in roles.items()}
        self.interval_s = interval_s
        self.samples: list[dict] = []
        self._procs: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-monitor", daemon=True)
        self.started_at = 0.0

    def add(self, role: str, pid: int) -> None:
        self.roles.setdefault(role, []).append(pid)

    def start(self) -> "CpuMonitor":
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.summary()

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = self._procs.setdefault(pid, psutil.Process(pid))
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return []
        return [self._procs.setdefault(p.pid, p) for p in procs]

    def _sample_role(self, pids: list[int]) -> tuple[float, int]:
        total, n = 0.0, 0
        for pid in pids:
            for p in self._tree(pid):
                try:
                    total += p.cpu_percent(None)  # since this process's previous call
                    n += 1
                except psutil.Error:
                    pass
        return total, n

    def _loop(self) -> None:
        for pids in self.roles.values():   # prime: the first cpu_percent call returns 0.0
            self._sample_role(pids)
        while not self._stop.wait(self.interval_s):
            row: dict = {"t_s": round(time.time() - self.started_at, 2)}
            for role, pids in list(self.roles.items()):
                pct, n = self._sample_role(pids)
                row[role] = round(pct, 1)
                row[f"{role}_processes"] = n
            self.samples.append(row)

    def summary(self) -> dict:
        out: dict = {"cores": psutil.cpu_count(logical=True), "interval_s": self.interval_s,
                     "started_at": self.started_at,
                     "samples": self.samples, "roles": {}}
        for role in self.roles:
            vals = [s[role] for s in self.samples if role in s]
            procs = max((s.get(f"{role}_processes", 0) for s in self.samples), default=0)
            out["roles"][role] = {
                "mean_percent": round(sum(vals) / len(vals), 1) if vals else None,
                "max_percent": max(vals) if vals else None, "processes": procs}
        return out


def load_generator_saturated(cpu: dict, locust_cpu_warning: bool, threshold: float = 0.9) -> tuple[bool, str]:
    """Did the load generator run out of CPU? Locust's own cpu_warning, or its mean CPU above
    ``threshold`` of the cores it can use (one per Locust process, at most the machine's)."""
    if locust_cpu_warning:
        return True, "Locust emitted cpu_warning (a Locust process above 90% CPU)"
    lg = cpu.get("roles", {}).get("load_generator", {})
    mean, procs = lg.get("mean_percent"), lg.get("processes") or 1
    usable = min(procs, cpu.get("cores") or 1)
    if mean is not None and mean > threshold * 100 * usable:
        return True, f"load generator mean CPU {mean:.0f}% > {threshold:.0%} of its {usable} core(s)"
    return False, "" if mean is None else f"load generator mean CPU {mean:.0f}% of {usable * 100}%"
