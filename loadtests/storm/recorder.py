"""Locust event plumbing of a storm: exact latency histograms, per-second timeline, hot envelopes,
the open model's pools.

- the kit's users record their own requests (loadtests/storm/grabber.py); any other ``request``
  event goes into a per-name microsecond Histogram, a per-second count and a per-second latency
  histogram (for step-ramp percentiles), and per-user grab counts;
- open model: each process (the local runner, or every worker) runs an OpenPool over its share of
  the arrival schedule from the storm's start (the master deals the shares out by worker);
- workers ship their data to the master with each stats report and the master merges it, so a
  distributed run aggregates exactly what the workers saw;
- the master (or the single local runner) creates the hot envelopes at test start and broadcasts
  their ids and release time to every worker;
- the master writes ``locust_extra.json`` at exit and ``progress.json`` every second into
  $HONGBAO_STORM_OUT, when set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from hongbao.loadtests.adapters import NewEnvelope
from hongbao.loadtests.adapters.http import BlockingHttp
from hongbao.loadtests.storm.gc_pauses import Freezer
from hongbao.loadtests.storm.grabber import RECORDED
from hongbao.loadtests.storm.outcomes import GRAB_NAMES
from hongbao.loadtests.users import ADAPTER, POOL, RECORDING, SCENARIO, start_open_pool

OUT_ENV = "HONGBAO_STORM_OUT"

#: how the master creates hot envelopes (set below); loadtests/redis_user.py swaps in Redis
HOT_FACTORY: list = []
STATE: dict = {
    "hot_ids": [],
    "release_at": None,
    "started_at": None,
    "run_tag": None,
    "workers": set(),
    "last_report": {},
    "open_pool": None,
}
RUN_TAG_ENV = "HONGBAO_RUN_TAG"
#: this process's collector, kept out of the storm's way while it runs (loadtests/storm/gc_pauses.py)
FREEZER = Freezer()


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, context=None, **kwargs):
    if context is RECORDED:
        return
    RECORDING.add(name, float(response_time or 0.0), exception is not None, (context or {}).get("user_id"), context)


@events.test_start.add_listener
def _freeze_while_storming(environment, **kwargs):
    FREEZER.start()  # every process: the local runner, the master and each worker


@events.report_to_master.add_listener
def _on_report_to_master(client_id, data):
    RECORDING.gc_pause(FREEZER.longest_pause_ms)
    data["hongbao"] = RECORDING.take()


@events.worker_report.add_listener
def _on_worker_report(client_id, data):
    STATE["workers"].add(client_id)
    STATE["last_report"][client_id] = time.time()
    if "hongbao" in data:
        RECORDING.merge_json(data["hongbao"])


def create_hot_http(environment) -> list:
    """Create the scenario's hot envelopes through the storm's adapter (not timed: set-up)."""
    http = BlockingHttp(environment.host, timeout_s=10)
    ids = []
    for i in range(SCENARIO.hot_envelopes):
        spec = NewEnvelope(
            sender=f"hot-sender-{i}",
            total_cents=SCENARIO.hot_total_cents,
            count=SCENARIO.hot_count,
            algorithm=SCENARIO.algorithm,
            mode=SCENARIO.mode,
            expires_in_s=SCENARIO.expires_in_s,
        )
        ids.append(ADAPTER.create_envelope(http, spec))
        RECORDING.add_envelope(ids[-1], spec.total_cents, spec.count, spec.min_cents)
    return ids


HOT_FACTORY.append(create_hot_http)


@events.test_start.add_listener
def _on_test_start(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        return
    STATE["started_at"] = time.time()
    STATE["run_tag"] = os.environ.get(RUN_TAG_ENV) or f"r{int(STATE['started_at'] * 1000):x}"
    POOL.set_run(STATE["run_tag"])
    try:
        STATE["hot_ids"] = HOT_FACTORY[0](environment) if SCENARIO.hot_envelopes else []
    except Exception as e:  # noqa: BLE001 - reported in locust_extra.json; the storm is unusable
        body = e.read().decode(errors="replace")[:300] if hasattr(e, "read") else ""
        STATE["setup_error"] = f"creating the hot envelopes failed: {type(e).__name__}: {e} {body}".strip()
        STATE["hot_ids"] = []
        gevent.spawn_later(0.1, environment.runner.quit)  # no point storming a broken setup
    STATE["release_at"] = STATE["started_at"] + SCENARIO.hot_release_s
    POOL.set_hot(STATE["hot_ids"], STATE["release_at"])
    if isinstance(environment.runner, MasterRunner):
        clients = sorted(environment.runner.clients.values(), key=lambda c: environment.runner.get_worker_index(c.id))
        environment.runner.send_message(
            "hongbao_hot",
            {
                "ids": STATE["hot_ids"],
                "release_at": STATE["release_at"],
                "run_tag": STATE["run_tag"],
                "started_at": STATE["started_at"],
                "host": environment.host,
                "shares": {c.id: i for i, c in enumerate(clients)},
            },
        )
    elif SCENARIO.model == "open" and "setup_error" not in STATE:
        STATE["open_pool"] = start_open_pool(environment, STATE["started_at"], 0, 1)


@events.test_stopping.add_listener
def _on_test_stopping(environment, **kwargs):
    pool, STATE["open_pool"] = STATE["open_pool"], None
    if pool is not None:
        pool.stop()


@events.test_stop.add_listener
def _unfreeze(environment, **kwargs):
    RECORDING.gc_pause(FREEZER.longest_pause_ms)
    FREEZER.stop()


@events.test_stop.add_listener
def _on_test_stop(environment, **kwargs):
    """Master: wait (at most 8 s) for one report from every worker sent after its users stopped,
    so the totals include every request that finished during the graceful stop. Locust's own
    quit waits only 0.5 s for the workers' final reports, too little on a loaded machine."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    stopped_at, deadline = time.time(), time.time() + 8.0
    while time.time() < deadline:
        if all(STATE["last_report"].get(c.id, 0.0) > stopped_at for c in runner.clients.all):
            return
        gevent.sleep(0.2)


def _on_hot_message(environment, msg, **kwargs):
    POOL.set_run(msg.data["run_tag"])
    POOL.set_hot(msg.data["ids"], msg.data["release_at"])
    shares = msg.data.get("shares", {})
    me = environment.runner.client_id
    if SCENARIO.model == "open" and me in shares and STATE["open_pool"] is None:
        STATE["open_pool"] = start_open_pool(
            environment, msg.data["started_at"], shares[me], len(shares), msg.data.get("host")
        )


def _write(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _progress_loop(environment, out: Path) -> None:
    while True:
        runner = environment.runner
        _write(
            out / "progress.json",
            {
                "time": time.time(),
                "started_at": STATE["started_at"],
                "users": getattr(runner, "user_count", 0),
                "grab_requests": sum(h.total for n, h in RECORDING.hist.items() if n in GRAB_NAMES),
                "grabs_ok": sum(
                    n - f for names in RECORDING.timeline.values() for name, (n, f) in names.items() if name == "grab"
                ),
                "timeline_tail": {str(s): v for s, v in sorted(RECORDING.timeline.items())[-8:]},
            },
        )
        gevent.sleep(1.0)


@events.init.add_listener
def _on_init(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("hongbao_hot", _on_hot_message)
        return
    out = os.environ.get(OUT_ENV)
    if out and runner is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        gevent.spawn(_progress_loop, environment, Path(out))


@events.quitting.add_listener
def _on_quitting(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or not os.environ.get(OUT_ENV):
        return
    extra = RECORDING.to_json()
    extra.update(
        {
            "scenario": SCENARIO.name,
            "seed": SCENARIO.seed,
            "model": SCENARIO.model,
            "tolerance_ms": SCENARIO.tolerance_ms if SCENARIO.model == "open" else None,
            "run_tag": STATE["run_tag"],
            "setup_error": STATE.get("setup_error"),
            "hot_envelope_ids": STATE["hot_ids"],
            "hot_release_at": STATE["release_at"],
            "stopped_early": STATE.get("stopped_early"),  # a ramp past its SLO (loadtests/shapes.py)
            "started_at": STATE["started_at"],
            "ended_at": time.time(),
            "runner": type(runner).__name__,
            "workers": len(STATE["workers"]),  # workers that reported during the run
            "cpu_warning": bool(
                getattr(runner, "cpu_warning_emitted", False) or getattr(runner, "worker_cpu_warning_emitted", False)
            ),
        }
    )
    _write(Path(os.environ[OUT_ENV]) / "locust_extra.json", extra)
