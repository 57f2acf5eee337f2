"""Measure the service against a bare ASGI echo app on the same server stack, with wrk.

    python -m hongbao.loadtests.service.measure_stack [--duration-s 8] [--connections 50] [--rounds 2]

Each target runs in its own uvicorn process (uvloop + httptools, one worker) on a free loopback
port; wrk (apt-get install wrk) drives it with one thread, bounded by --duration-s. Targets: bare
echo POST, the same echo behind Starlette, service GET /healthz, service POST grab (--store, default
memory; pre_split and on_grab, a fresh user per request). Prints requests/s and the server's CPU
time per request (psutil), each as a ratio to the bare app: on a shared machine the CPU cost per
request is the steadier of the two. With a Redis store, each service row also notes Redis's CPU per
request (INFO cpu before and after the run).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from hongbao.loadtests import procs
from hongbao.loadtests.adapters.http import get
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp

GRAB_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local env = FIRST + math.floor(counter / PER_ENVELOPE)
  local body = '{"user":"u' .. counter .. '","request_id":"r' .. counter .. '"}'
  return wrk.format("POST", "/envelopes/" .. env .. "/grab", {["Content-Type"] = "application/json"}, body)
end
"""
ECHO_LUA = """
wrk.method = "POST"
wrk.body = '{"user":"u1","request_id":"r1"}'
wrk.headers["Content-Type"] = "application/json"
"""
PER_ENVELOPE = 100_000


def _serve(app: str, factory: bool, port: int, store: str = "memory") -> subprocess.Popen:
    code = (
        f"import uvicorn; uvicorn.run({app!r}, factory={factory}, host='127.0.0.1', port={port}, "
        "loop='uvloop', http='httptools', access_log=False, log_level='warning', timeout_keep_alive=75, "
        "backlog=4096)"
    )
    proc = procs.start([sys.executable, "-c", code], env={"HONGBAO_STORE": store, "PATH": "/usr/bin:/bin"})
    procs.wait_until(lambda: get(f"http://127.0.0.1:{port}/healthz", 1).status < 500, proc=proc, what=app, timeout_s=10)
    return proc


@contextlib.contextmanager
def _served(app: str, factory: bool, store: str = "memory"):
    """(port, pid) of a uvicorn serving ``app`` on a free loopback port, ended by its PID on exit."""
    port = procs.free_port()
    proc = _serve(app, factory, port, store)
    try:
        yield port, proc.pid
    finally:
        procs.stop(proc)


def _redis_cpu_s(store: str) -> float | None:
    """Seconds of CPU the store's Redis server has used (INFO cpu, user + sys), None for memory.
    A Cluster URL sums every node."""
    if store == "memory":
        return None
    import redis
    from redis.cluster import RedisCluster

    if store.startswith("redis+cluster://"):
        cluster = RedisCluster.from_url("redis://" + store.split("://", 1)[1])
        infos = list(cluster.info("cpu", target_nodes=RedisCluster.ALL_NODES).values())
        cluster.close()
    else:
        client = redis.Redis.from_url(store)
        infos = [client.info("cpu")]
        client.close()
    return sum(float(i["used_cpu_user"]) + float(i["used_cpu_sys"]) for i in infos)


def _found(pattern: str, text: str, flags: int = 0) -> str:
    """The first group of ``pattern`` in wrk's output; RuntimeError naming it when wrk printed no such line."""
    m = re.search(pattern, text, flags)
    if m is None:
        raise RuntimeError(f"wrk output has no match for {pattern!r}:\n{text[-2000:]}")
    return m.group(1)


def _wrk(
    url: str, script: str, duration_s: int, connections: int, server_pid: int, store: str = "memory"
) -> tuple[float, float, str]:
    """(requests/s, server CPU microseconds per request, notes) of one bounded wrk run; with a
    Redis store the notes add Redis's own CPU microseconds per request."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    server = psutil.Process(server_pid)
    redis0 = _redis_cpu_s(store)
    cpu0 = sum(server.cpu_times()[:2])
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        timeout=duration_s + 30,
    ).stdout
    cpu_s = sum(server.cpu_times()[:2]) - cpu0
    Path(f.name).unlink()
    rps = float(_found(r"Requests/sec:\s+([\d.]+)", out))
    total = int(_found(r"(\d+) requests in", out))
    p99 = _found(r"^\s*99%\s+(\S+)", out, re.M)  # the latency distribution line, not a "...99%" stdev
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    notes = f"p99 {p99}" + (f", {non2xx.group(1)} non-2xx" if non2xx else "")
    redis1 = _redis_cpu_s(store) if redis0 is not None else None
    if redis0 is not None and redis1 is not None:
        notes += f", redis {(redis1 - redis0) / total * 1e6:.1f}us/req"
    return rps, cpu_s / total * 1e6, notes


def _create(port: int, mode: str, n: int) -> int:
    """Create ``n`` envelopes of PER_ENVELOPE shares; the first one's id."""
    from hongbao.loadtests.adapters import NewEnvelope
    from hongbao.loadtests.adapters.reference import ReferenceAdapter

    http, adapter = KeepAliveHttp(f"http://127.0.0.1:{port}"), ReferenceAdapter()
    env = NewEnvelope("bench", PER_ENVELOPE * 100, PER_ENVELOPE, mode=mode)
    try:
        return min(adapter.create_envelope(http, env) for _ in range(n))
    finally:
        http.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration-s", type=int, default=8)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument(
        "--store", default="memory", help="the service's store URL (default memory), e.g. redis://127.0.0.1:6379/0"
    )
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    results: dict[str, list[tuple[float, float, str]]] = {}
    for _ in range(args.rounds):
        for name, app in (
            ("bare echo POST", "hongbao.loadtests.service.bare_echo:app"),
            ("Starlette echo POST", "hongbao.loadtests.service.bare_echo:starlette_app"),
        ):
            with _served(app, app.endswith("starlette_app")) as (port, pid):
                results.setdefault(name, []).append(
                    _wrk(f"http://127.0.0.1:{port}/", ECHO_LUA, args.duration_s, args.connections, pid)
                )
        with _served("hongbao.loadtests.service.app:app_from_env", True, args.store) as (port, pid):
            results.setdefault("service GET /healthz", []).append(
                _wrk(f"http://127.0.0.1:{port}/healthz", "", args.duration_s, args.connections, pid, args.store)
            )
            for mode in ("pre_split", "on_grab"):
                first = _create(port, mode, 4)
                lua = GRAB_LUA.replace("FIRST", str(first)).replace("PER_ENVELOPE", str(PER_ENVELOPE))
                results.setdefault(f"service POST grab ({mode})", []).append(
                    _wrk(f"http://127.0.0.1:{port}", lua, args.duration_s, args.connections, pid, args.store)
                )
    bare_rps = max(r for r, _, _ in results["bare echo POST"])
    bare_cpu = min(c for _, c, _ in results["bare echo POST"])
    print(f"{'target':28} {'best req/s':>10} {'x bare':>6} {'server CPU us/req (min)':>24} {'x bare':>6}  all rounds")
    for name, runs in results.items():
        best, cpu = max(r for r, _, _ in runs), min(c for _, c, _ in runs)
        notes = "; ".join(f"{r:,.0f}/s {c:.0f}us {n}" for r, c, n in runs)
        print(f"{name:28} {best:>10,.0f} {best / bare_rps:>6.2f} {cpu:>24.1f} {bare_cpu / cpu:>6.2f}  {notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
