"""Run one bounded step ramp against the grab service and cut it into measured steps.

The service (``hongbao serve``) and real Locust (the storm's locustfile with a ``ramp`` shape)
run as child processes on 127.0.0.1; every step's grabs/s, p50/p99 (the storm recorder's
microsecond histograms) and failures come from Locust's per-second timeline, and the CPU of the
load generator, the service and the store (a local redis-server) is sampled with psutil.
Bounded: ``steps x step_s`` seconds of load, a hard timeout, and only processes we started are
stopped, by pid.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import psutil

from harness.capacity.saturation import RampStep
from loadtests.storm.histogram import Histogram

ROOT = Path(__file__).resolve().parents[2]
BASE_SCENARIO = ROOT / "seeds" / "storms" / "ramp.toml"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
GRAB_NAMES = ("grab", "grab sold_out", "grab expired", "grab repeat")
SETTLE_S = 1.0          # the first second of every step (users still spawning) is not measured


class RampError(RuntimeError):
    """The ramp could not run (service did not start, Locust failed); the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_scenario(path: Path, *, steps: int, step_s: float, start_users: int, step_users: int,
                   seed: int, base: Path = BASE_SCENARIO) -> Path:
    """A copy of the ramp scenario with this ramp's steps, duration and seed."""
    data = tomllib.loads(base.read_text())
    data.update(name="capacity-ramp", seed=int(seed), duration_s=float(steps * step_s))
    data["shape"] = {**data.get("shape", {}), "kind": "ramp", "start_users": int(start_users),
                     "step_users": int(step_users), "step_s": float(step_s)}
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for table, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _tree_cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class CpuSampler:
    """Samples the cumulative CPU seconds of each component every ``interval_s`` in a thread."""

    def __init__(self, procs: dict[str, psutil.Process], interval_s: float = 0.5):
        self.procs, self.interval_s = procs, interval_s
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = {k: _tree_cpu_seconds(p) for k, p in self.procs.items()}
            machine = psutil.cpu_times()
            now["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
            self.samples.append((time.time(), now))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def cores(self, t0: float, t1: float) -> dict[str, float]:
        """Average cores busy per component between t0 and t1 (from the samples nearest inside)."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {}
        (ta, a), (tb, b) = inside[0], inside[-1]
        return {k: max(0.0, (b[k] - a[k]) / (tb - ta)) for k in a if tb > ta}


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RampError(f"the grab service exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RampError(f"the grab service did not answer {url}/healthz within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    """Stop a child we started (and its own children), by pid."""
    if proc.poll() is not None:
        return
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        kids = []
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    for kid in kids:
        try:
            kid.kill()
        except psutil.Error:
            pass


def _redis_process(store: str) -> psutil.Process | None:
    if not store.startswith("redis://"):
        return None
    import redis
    client = redis.Redis.from_url(store)
    try:
        return psutil.Process(int(client.info("server")["process_id"]))
    except (psutil.Error, KeyError, ValueError):
        return None
    finally:
        client.close()


def cut_steps(extra: dict, cpu: CpuSampler | None, *, steps: int, step_s: float, start_users: int,
              step_users: int, cores: dict[str, float]) -> list[RampStep]:
    """Per-step figures from the recorder's per-second timeline and grab histograms."""
    started = float(extra["started_at"])
    timeline = {int(s): v for s, v in extra.get("timeline", {}).items()}
    hists = {int(s): Histogram.from_json(h) for s, h in extra.get("grab_hist", {}).items()}
    out = []
    for k in range(steps):
        t0, t1 = started + k * step_s + SETTLE_S, started + (k + 1) * step_s
        secs = [s for s in range(int(t0) + 1, int(t1)) if t0 <= s and s + 1 <= t1] or [int(t0) + 1]
        requests = failures = 0
        hist = Histogram()
        for s in secs:
            for name, (n, f) in timeline.get(s, {}).items():
                if name in GRAB_NAMES:
                    requests += n
                failures += f
            if s in hists:
                hist.merge(hists[s])
        summary = hist.summary_ms((50, 99))
        out.append(RampStep(users=start_users + k * step_users, duration_s=float(len(secs)),
                            requests=requests, failures=failures, grabs_per_second=requests / len(secs),
                            p50_ms=summary["p50_ms"] or 0.0, p99_ms=summary["p99_ms"] or 0.0,
                            cpu_cores=cpu.cores(min(secs), max(secs) + 1) if cpu else {}, cores=dict(cores)))
    return out


def run_ramp(*, store: str = "memory", workers: int = 1, processes: int = 1, steps: int = 6,
             step_s: float = 5.0, start_users: int = 10, step_users: int = 20, seed: int = 3,
             work_dir: Path | None = None, on_progress=None) -> dict:
    """Serve, ramp, measure; returns ``{"label", "store", "service_workers", ..., "steps": [...]}``."""
    if steps < 1 or step_s < 2:
        raise ValueError("steps must be >= 1 and step_s >= 2 seconds")
    work = Path(work_dir or tempfile.mkdtemp(prefix="hongbao-ramp-"))
    work.mkdir(parents=True, exist_ok=True)
    scenario = write_scenario(work / "ramp_scenario.toml", steps=steps, step_s=step_s,
                              start_users=start_users, step_users=step_users, seed=seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HONGBAO_SCENARIO=str(scenario), HONGBAO_STORM_OUT=str(work))
    service = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--store", store, "--port",
                                str(port), "--workers", str(workers), "--seed", str(seed)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=open(work / "service.log", "w"))
    locust = None
    try:
        _wait_healthy(url, service)
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
               "--only-summary", "--stop-timeout", "2", "--exit-code-on-error", "0"]
        if processes > 1:
            cmd += ["--processes", str(processes)]
        locust = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(work / "locust.log", "w"),
                                  stderr=subprocess.STDOUT)
        procs = {"load_generator": psutil.Process(locust.pid), "service": psutil.Process(service.pid)}
        redis_proc = _redis_process(store)
        if redis_proc is not None:
            procs["store"] = redis_proc
        bound_s = steps * step_s + 60
        with CpuSampler(procs) as cpu:
            t_start = time.time()
            while locust.poll() is None:
                if time.time() - t_start > bound_s:
                    _stop(locust)
                    raise RampError(f"Locust did not stop within {bound_s:.0f} s (see {work / 'locust.log'})")
                if on_progress:
                    on_progress(min(time.time() - t_start, steps * step_s), steps * step_s)
                time.sleep(0.25)
        extra_path = work / "locust_extra.json"
        if not extra_path.is_file():
            raise RampError(f"Locust exited with code {locust.returncode} without results "
                            f"(see {work / 'locust.log'})")
        extra = json.loads(extra_path.read_text())
    finally:
        if locust is not None:
            _stop(locust)
        _stop(service)
    cores = {"load_generator": float(processes), "service": float(workers), "machine": float(psutil.cpu_count())}
    if "store" in procs:
        cores["store"] = 1.0
    ramp_steps = cut_steps(extra, cpu, steps=steps, step_s=step_s, start_users=start_users,
                           step_users=step_users, cores=cores)
    kind = "redis" if store.startswith("redis") else store
    return {"label": f"{kind} store, {workers} worker(s), {processes} Locust process(es)", "store": kind,
            "service_workers": workers, "loadgen_processes": processes, "step_s": step_s,
            "cpu_warning": bool(extra.get("cpu_warning")), "machine_cores": psutil.cpu_count(),
            "steps": [s.to_json() for s in ramp_steps]}
