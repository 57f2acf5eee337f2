"""CPU sampling of the storm's processes (load generator, service, store) with psutil, by PID.

Each role names root PIDs; their child processes are included (Locust ``--processes`` workers,
uvicorn workers). ``cpu_percent`` is per core, as in ``top``: 200 = two cores busy. A role can
instead be read from a cumulative CPU-seconds counter, e.g. a service's Prometheus
``process_cpu_seconds_total`` at its /metrics URL (a service the kit did not start, anywhere).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

CPU_METRIC = "process_cpu_seconds_total"


def prometheus_cpu_seconds(url: str, timeout_s: float = 2.0) -> float:
    """``process_cpu_seconds_total`` read from a Prometheus text exposition at ``url`` (summed
    over its samples); ValueError when the page has none."""
    from prometheus_client.parser import text_string_to_metric_families

    from hongbao.loadtests.adapters.http import get

    reply = get(url, timeout_s)
    if reply.status != 200:
        raise OSError(f"{url}: HTTP {reply.status}")
    text = reply.body.decode("utf-8", errors="replace")
    values = [s.value for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == CPU_METRIC]
    if not values:
        raise ValueError(f"{url} has no {CPU_METRIC} (is it a Prometheus /metrics page?)")
    return float(sum(values))


def metrics_counter(urls: list[str]) -> Callable[[], float]:
    """CPU seconds so far of the processes behind ``urls`` (one /metrics page each, summed)."""
    return lambda: sum(prometheus_cpu_seconds(u) for u in urls)


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

    def __init__(
        self,
        roles: dict[str, list[int]],
        interval_s: float = 0.5,
        counters: dict[str, Callable[[], float]] | None = None,
    ) -> None:
        """``counters``: role -> a function returning that role's cumulative CPU seconds (read
        around each sample instead of PIDs; a failed read leaves the role out of that sample)."""
        self.roles = {r: [p for p in pids if p] for r, pids in roles.items()}
        self.counters = dict(counters or {})
        for role in self.counters:
            self.roles.setdefault(role, [])
        self._last: dict[str, tuple[float, float]] = {}
        self.interval_s = interval_s
        self.samples: list[dict] = []
        self._procs: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-monitor", daemon=True)
        self.started_at = 0.0

    def add(self, role: str, pid: int) -> None:
        self.roles.setdefault(role, []).append(pid)

    def start(self) -> CpuMonitor:
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = self._procs.setdefault(pid, psutil.Process(pid))
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return []
        return [self._procs.setdefault(p.pid, p) for p in procs]

    def _sample_role(self, pids: list[int]) -> dict[int, float]:
        """CPU percent of every process of a role since the previous sample, by PID."""
        out: dict[int, float] = {}
        for pid in pids:
            for p in self._tree(pid):
                try:
                    out[p.pid] = p.cpu_percent(None)  # since this process's previous call
                except psutil.Error:
                    pass
        return out

    def _read_counter(self, role: str) -> float | None:
        """Percent of one core since the previous read of ``role``'s counter (None: no reading)."""
        try:
            now, cpu_s = time.monotonic(), self.counters[role]()
        except (OSError, ValueError):
            self._last.pop(role, None)
            return None
        prev, self._last[role] = self._last.get(role), (now, cpu_s)
        if prev is None or now <= prev[0]:
            return None
        return max(0.0, (cpu_s - prev[1]) / (now - prev[0]) * 100)

    def _loop(self) -> None:
        for role in self.counters:
            self._read_counter(role)
        for pids in self.roles.values():  # prime: the first cpu_percent call returns 0.0
            self._sample_role(pids)
        psutil.cpu_percent(None)
        cores = psutil.cpu_count(logical=True) or 1
        while not self._stop.wait(self.interval_s):
            now = time.time()
            # the whole machine, same unit (100 = one core): other work competing for the cores
            row: dict = {"t_s": round(now - self.started_at, 2), "machine": round(psutil.cpu_percent(None) * cores, 1)}
            for role, pids in list(self.roles.items()):
                if role in self.counters:
                    pct = self._read_counter(role)
                    if pct is not None:
                        row[role], row[f"{role}_processes"] = round(pct, 1), 1
                    continue
                per_pid = self._sample_role(pids)
                row[role] = round(sum(per_pid.values()), 1)
                row[f"{role}_processes"] = len(per_pid)
                row[f"{role}_by_pid"] = {str(k): round(v, 1) for k, v in per_pid.items()}
            self.samples.append(row)

    def summary(self, window: tuple[float, float] | None = None) -> dict:
        """Mean/max CPU per role (and the busiest process's mean), over the samples inside
        ``window`` (epoch seconds, e.g. the storm itself without Locust's start-up) if given."""
        samples = self.samples
        if window is not None:
            lo, hi = window[0] - self.started_at, window[1] - self.started_at
            samples = [s for s in samples if lo <= s["t_s"] <= hi] or samples
        out: dict = {
            "cores": psutil.cpu_count(logical=True),
            "interval_s": self.interval_s,
            "started_at": self.started_at,
            "window": list(window) if window else None,
            "samples": self.samples,
            "roles": {},
        }
        for role in self.roles:
            vals = [s[role] for s in samples if role in s]
            procs = max((s.get(f"{role}_processes", 0) for s in samples), default=0)
            by_pid: dict[str, list[float]] = {}
            for s in samples:
                for pid, v in s.get(f"{role}_by_pid", {}).items():
                    by_pid.setdefault(pid, []).append(v)
            busiest = max((sum(v) / len(v) for v in by_pid.values()), default=None)
            out["roles"][role] = {
                "mean_percent": round(sum(vals) / len(vals), 1) if vals else None,
                "max_percent": max(vals) if vals else None,
                "processes": procs,
                "busiest_process_mean_percent": None if busiest is None else round(busiest, 1),
            }
        machine = [s["machine"] for s in samples if "machine" in s]
        out["machine_mean_percent"] = round(sum(machine) / len(machine), 1) if machine else None
        return out


def machine_busy(cpu: dict, threshold: float = 0.9) -> tuple[bool, str]:
    """Was the whole machine near full CPU during the storm? Then other work competed with the
    storm's processes, and its latencies and rates are lower bounds of what they could do."""
    mean, cores = cpu.get("machine_mean_percent"), cpu.get("cores") or 1
    if mean is None:
        return False, ""
    own = sum((r.get("mean_percent") or 0) for r in cpu.get("roles", {}).values())
    note = f"machine CPU {mean:.0f}% of {cores * 100}% (the storm's own processes {own:.0f}%)"
    return mean > threshold * 100 * cores, note


def load_generator_saturated(cpu: dict, locust_cpu_warning: bool, threshold: float = 0.9) -> tuple[bool, str]:
    """Did the load generator run out of CPU? Locust's own cpu_warning, or its mean CPU above
    ``threshold`` of the cores it can use (one per Locust process, at most the machine's)."""
    if locust_cpu_warning:
        return True, "Locust emitted cpu_warning (a Locust process above 90% CPU)"
    lg = cpu.get("roles", {}).get("load_generator", {})
    mean, procs = lg.get("mean_percent"), lg.get("processes") or 1
    busiest = lg.get("busiest_process_mean_percent")
    usable = min(procs, cpu.get("cores") or 1)
    if busiest is not None and busiest > threshold * 100:
        return True, (
            f"a Locust process averaged {busiest:.0f}% CPU (> {threshold:.0%} of the one core a gevent process can use)"
        )
    if mean is not None and mean > threshold * 100 * usable:
        return True, f"load generator mean CPU {mean:.0f}% > {threshold:.0%} of its {usable} core(s)"
    return False, "" if mean is None else (
        f"load generator mean CPU {mean:.0f}% of {usable * 100}%, busiest process {busiest:.0f}%"
    )
