"""Locust listeners of a fleet storm, loaded by the fleet's locustfile (loadtests/storm/fleet.py)
on the master and on every worker.

- a worker says hello once connected: the host it runs on (``hongbao worker --name``, default
  its hostname), the address it reaches the master from, its PID and kit version;
- the master counts each worker's grab requests and new grabs from Locust's own stats reports,
  names each worker that goes missing (no heartbeats) or leaves while the storm runs (the storm
  goes on with the others, and Locust hands their users to the rest), and writes fleet.json into
  $HONGBAO_STORM_OUT at exit;
- a worker that cannot run the storm (another kit version, an adapter it cannot import) tells the
  master, which ends the storm with that reason (``refuse``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from hongbao.loadtests.storm import fleet
from hongbao.loadtests.storm.outcomes import GRAB, GRAB_NAMES

OUT_ENV = "HONGBAO_STORM_OUT"
log = logging.getLogger("hongbao.fleet")

#: master: client id -> what that worker process said and did; the refusals; when the storm began
FLEET: dict = {"workers": {}, "refused": [], "started_at": None}


def worker_name() -> str:
    return os.environ.get(fleet.NAME_ENV) or socket.gethostname()


def source_address(host: str, port: int) -> str | None:
    """The local address this machine reaches ``host`` from (what the master sees), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return s.getsockname()[0]
    except OSError:
        return None


def refuse(message: str) -> None:
    """On a worker that cannot run the storm: tell the master why, over Locust's own RPC (best
    effort: the worker's own output says it too). Does nothing outside a worker."""
    from locust.argument_parser import parse_locustfile_option
    from locust.rpc import Message, zmqrpc

    # locust annotates a (Namespace, list) tuple but returns the Namespace itself
    opts: Any = parse_locustfile_option()
    if not opts.worker:
        return
    client_id = f"{worker_name()}_refused_{os.getpid()}"
    data = {
        "host": worker_name(),
        "pid": os.getpid(),
        "message": message,
        "address": source_address(opts.master_host, opts.master_port),
    }
    client = zmqrpc.Client(opts.master_host, opts.master_port, client_id)
    try:
        # three times, a second apart: a master that has just answered our locustfile request may
        # not have its listeners yet (the master keeps the first)
        for attempt in range(3):
            client.send(Message(fleet.REFUSED_MSG, data, client_id))
            time.sleep(1.0 if attempt < 2 else 0)
    finally:
        client.close(linger=2000)  # long enough for the messages to leave


def _worker(client_id: str) -> dict:
    return FLEET["workers"].setdefault(
        client_id,
        {
            "client_id": client_id,
            "host": None,
            "address": None,
            "pid": None,
            "grab_requests": 0,
            "grabs": 0,
            "lost": None,
            "lost_at_s": None,
            "last_report_s": None,
            "cpu_percent_max": None,
        },
    )


def _on_hello(environment, msg, **kwargs) -> None:
    _worker(msg.node_id).update({k: msg.data.get(k) for k in ("host", "address", "pid", "kit_version")})


def _on_refused(environment, msg, **kwargs) -> None:
    if any(r.get("pid") == msg.data.get("pid") and r.get("host") == msg.data.get("host") for r in FLEET["refused"]):
        return
    FLEET["refused"].append(msg.data)
    log.error("worker on %s refused: %s", msg.data.get("host"), msg.data.get("message"))
    _save(environment)
    opts = environment.parsed_options
    if FLEET["started_at"] is None and opts is not None:
        # still waiting for workers: the fleet cannot be what was asked, so Locust's own wait gives
        # up at its next check (it exits without a quitting event: fleet.json is already written)
        opts.expect_workers_max_wait = 1e-3


@events.worker_report.add_listener
def _on_worker_report(client_id, data, **kwargs) -> None:
    """Locust's workers report their stats since the last report: add up each one's grabs."""
    w = _worker(client_id)
    w["last_report_s"] = _since_start()
    for entry in data.get("stats", []):
        if entry.get("name") in GRAB_NAMES:
            w["grab_requests"] += entry.get("num_requests", 0)
            if entry.get("name") == GRAB:
                w["grabs"] += entry.get("num_requests", 0) - entry.get("num_failures", 0)


def _since_start() -> float | None:
    return None if FLEET["started_at"] is None else round(time.time() - FLEET["started_at"], 1)


def _check_lost(runner: MasterRunner, running: bool) -> None:
    """Name each worker gone missing (no heartbeats) or, while the storm runs, gone away."""
    for client_id, w in FLEET["workers"].items():
        node = runner.clients.get(client_id)
        if node is not None and node.cpu_usage is not None:
            w["cpu_percent_max"] = max(w["cpu_percent_max"] or 0, node.cpu_usage)
        if w["lost"]:
            continue
        why = (
            "left while the storm ran"
            if node is None and running
            else "stopped sending heartbeats"
            if node is not None and node.state == STATE_MISSING
            else None
        )
        if why:
            w["lost"], w["lost_at_s"] = why, _since_start()
            log.warning("worker %s on %s lost: %s; the storm goes on", client_id, w["host"], why)


def _watch(runner: MasterRunner) -> None:
    while True:
        if runner.state in (STATE_RUNNING, STATE_SPAWNING):
            _check_lost(runner, running=True)
        gevent.sleep(0.5)


@events.init.add_listener
def _on_init(environment, **kwargs) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(fleet.HELLO_MSG, _on_hello)
        runner.register_message(fleet.REFUSED_MSG, _on_refused)
        gevent.spawn(_watch, runner)
    elif isinstance(runner, WorkerRunner):
        runner.send_message(
            fleet.HELLO_MSG,
            {
                "host": worker_name(),
                "pid": os.getpid(),
                "kit_version": fleet.kit_version(),
                "address": source_address(runner.master_host, runner.master_port),
            },
        )


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    FLEET["started_at"] = time.time()


@events.quitting.add_listener
def _on_quitting(environment, **kwargs) -> None:
    if isinstance(environment.runner, MasterRunner):
        _check_lost(environment.runner, running=False)  # one killed just before the end is missing by now
    _save(environment)


def _save(environment) -> None:
    """fleet.json in $HONGBAO_STORM_OUT (the master's): at exit, and at once on a refusal."""
    out = os.environ.get(OUT_ENV)
    if not isinstance(environment.runner, MasterRunner) or not out:
        return
    opts = environment.parsed_options
    data = {
        "master": f"{opts.master_bind_host}:{opts.master_bind_port}" if opts else None,
        "kit_version": fleet.kit_version(),
        **FLEET,
    }
    path = Path(out) / fleet.FLEET_JSON
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
