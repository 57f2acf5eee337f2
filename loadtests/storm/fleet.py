"""Fleet storms: one Locust master (``hongbao storm --master``) and workers on other machines
(``hongbao worker --master HOST:PORT``) that need only the installed kit.

The master writes a small locustfile into its run folder (``write_locustfile``). Locust itself
sends it to every worker started with ``-f -``; it carries the kit version, the scenario TOML and
the environment the kit's locustfile reads (adapter spec, duration, seed, run tag, shape
overrides). On the worker it first compares kit versions (inline, so that any kit version can
read the refusal), then ``boot`` sets the environment up and checks that the adapter imports; a
worker that cannot run says why on its own output and to the master, which ends the storm with
that reason. The Locust listeners of a fleet are in ``fleet_agent.py``; this module has no Locust
import so that ``hongbao storm`` and the tests can use it in-process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from hongbao.loadtests.storm.arrivals import ArrivalPlan
from hongbao.loadtests.storm.scenario import SCENARIO_ENV

DIST = "hongbao-bench"
DEFAULT_PORT = 5557  # Locust's own master port
LOCUSTFILE_NAME = "hongbao_fleet.py"  # what the worker writes into its temp folder
FLEET_JSON = "fleet.json"  # what the master's Locust process writes at exit
REFUSED_MSG = "hongbao_refused"  # worker -> master: this worker cannot run the storm
HELLO_MSG = "hongbao_hello"  # worker -> master: host, address, pid
NAME_ENV = "HONGBAO_WORKER_NAME"  # how a worker names its machine (hongbao worker --name)
#: environment variables the master keeps to itself (paths of its own machine)
MASTER_ONLY_ENV = ("HONGBAO_STORM_OUT", SCENARIO_ENV, NAME_ENV)


def kit_version() -> str:
    """The installed hongbao-bench version ("unknown" when it is not installed as a package)."""
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return "unknown"


def parse_address(text: str, flag: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """'HOST:PORT', 'HOST' or ':PORT' -> (host, port); ValueError naming ``flag``."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = text.strip(), str(DEFAULT_PORT)
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{flag} must look like HOST:PORT with a port 1..65535 (got {text!r})")
    return host, int(port)


def _kit_module(locustfile: Path) -> str:
    """The importable name of one of the kit's locustfiles (loadtests/locustfile.py, redis_user.py)."""
    return f"hongbao.loadtests.{Path(locustfile).stem}"


def write_locustfile(
    out_dir: Path, env: dict, locustfile: Path, version: str | None = None, host: str | None = None
) -> Path:
    """The fleet's locustfile in ``out_dir``: the scenario, the target ``host`` and every HONGBAO_*
    variable of ``env`` (but the master's own paths), checked on the worker against its kit version."""
    scenario_toml = Path(env[SCENARIO_ENV]).read_text()
    spec = {
        "kit_version": version or kit_version(),
        "scenario_toml": scenario_toml,
        "host": host,
        "env": {k: v for k, v in env.items() if k.startswith("HONGBAO_") and k not in MASTER_ONLY_ENV},
    }
    text = f'''"""A fleet storm's locustfile, written by `hongbao storm --master`. Locust sends it to every
`hongbao worker`: it carries the scenario and the adapter spec, refuses a worker whose kit version
differs from the master's, then loads the kit's own locustfile."""
import json
import sys
from importlib import metadata

from locust.argument_parser import parse_locustfile_option

SPEC = json.loads({json.dumps(json.dumps(spec))})
try:
    HERE = metadata.version({DIST!r})
except metadata.PackageNotFoundError:
    HERE = "not installed"
if parse_locustfile_option().worker and HERE != SPEC["kit_version"]:   # the master wrote SPEC
    MESSAGE = (f"refused: this worker runs hongbao-bench {{HERE}}, the master runs hongbao-bench "
               f"{{SPEC['kit_version']}}; install the master's version on every worker")
    try:
        from hongbao.loadtests.storm.fleet_agent import refuse
        refuse(MESSAGE)
    except ImportError:
        pass
    sys.exit("hongbao worker: " + MESSAGE)

import importlib  # noqa: E402

from hongbao.loadtests.storm import fleet  # noqa: E402
fleet.boot(SPEC)
from hongbao.loadtests.storm import fleet_agent  # noqa: E402,F401  (the fleet's listeners)
KIT = importlib.import_module({_kit_module(locustfile)!r})   # its users and shape, found by Locust here
globals().update({{k: v for k, v in vars(KIT).items() if not k.startswith("__")}})
'''
    path = Path(out_dir) / LOCUSTFILE_NAME
    path.write_text(text)
    return path


def start_master(
    *,
    host: str,
    env: dict,
    out_dir: Path,
    duration_s: float,
    bind: tuple[str, int],
    expect_workers: int,
    wait_s: float,
    locustfile: Path,
) -> subprocess.Popen:
    """The Locust master of a fleet storm: listens on ``bind`` for ``expect_workers`` worker
    processes, waits at most ``wait_s`` for them and hands each the fleet's locustfile; a lost
    worker's users go to the others (Locust's rebalancing). Started as the storm's other Locust
    processes are (loadtests/storm/procs.py), with the master's options in Locust's environment
    variables."""
    from hongbao.loadtests.storm import procs

    path = write_locustfile(out_dir, env, locustfile, host=host)
    master_env = {
        **env,
        "LOCUST_MODE_MASTER": "true",
        "LOCUST_MASTER_BIND_HOST": bind[0],
        "LOCUST_MASTER_BIND_PORT": str(bind[1]),
        "LOCUST_EXPECT_WORKERS": str(expect_workers),
        "LOCUST_EXPECT_WORKERS_MAX_WAIT": str(int(wait_s)),
        "LOCUST_ENABLE_REBALANCING": "true",
    }
    return procs.start_locust(
        host=host, env=master_env, out_dir=out_dir, duration_s=duration_s, processes=None, workers=None, locustfile=path
    )[0]


def boot(spec: dict) -> None:
    """Inside the fleet's locustfile, before the kit's locustfile is imported: the environment
    the kit reads, the scenario from the master (on a worker), and the adapter checked."""
    for key, value in spec["env"].items():
        os.environ[key] = value
    if spec.get("host"):  # a worker knows the target from its start, not only from its first spawn
        os.environ["LOCUST_HOST"] = spec["host"]
    text = spec["scenario_toml"]  # the master's scenario, never one this machine has
    path = Path(tempfile.gettempdir()) / f"hongbao-scenario-{hashlib.sha256(text.encode()).hexdigest()[:16]}.toml"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # whole, even with other processes of this machine booting at once
    os.environ[SCENARIO_ENV] = str(path)
    adapter = os.environ.get("HONGBAO_ADAPTER")
    if adapter:
        from hongbao.loadtests.adapters import load_adapter

        try:
            load_adapter(adapter)
        except ValueError as e:
            from hongbao.loadtests.storm.fleet_agent import refuse

            message = (
                f"the adapter {adapter!r} the master storms with is not importable on this worker "
                f"({e}); install its module on every worker or put it on PYTHONPATH"
            )
            refuse(message)
            raise SystemExit("hongbao worker: " + message) from None


def read(out_dir: Path) -> dict | None:
    """What the master's Locust process wrote about its fleet (None outside fleet mode)."""
    path = Path(out_dir) / FLEET_JSON
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary(raw: dict, expected: int, plan: ArrivalPlan | None = None) -> dict:
    """storm.json's ``fleet`` section: each worker process, each host with its grabs, the lost ones.
    With the open model's arrival ``plan``: the arrivals of a lost worker's share that nobody sent
    after its last report (the shares are dealt once, at the start), estimated from the plan."""
    workers = sorted(raw.get("workers", {}).values(), key=lambda w: (w.get("host") or "", w.get("pid") or 0))
    hosts: dict[str, dict] = {}
    for w in workers:
        h = hosts.setdefault(
            w.get("host") or "?",
            {
                "host": w.get("host") or "?",
                "addresses": [],
                "processes": 0,
                "grab_requests": 0,
                "grabs": 0,
                "lost_processes": 0,
            },
        )
        if w.get("address") and w["address"] not in h["addresses"]:
            h["addresses"].append(w["address"])
        h["processes"] += 1
        h["grab_requests"] += w.get("grab_requests", 0)
        h["grabs"] += w.get("grabs", 0)
        h["lost_processes"] += int(bool(w.get("lost")))
    keys = ("host", "address", "pid", "client_id", "lost", "lost_at_s", "last_report_s", "grabs")
    lost = [{k: w.get(k) for k in keys} for w in workers if w.get("lost")]
    for w in lost:
        if plan is not None and w["last_report_s"] is not None and workers:
            share = plan.count_between(w["last_report_s"], plan.duration_s) / len(workers)
            w["open_model_arrivals_not_sent"] = int(round(share))
    return {
        "master": raw.get("master"),
        "expected_workers": expected,
        "connected_workers": len(workers),
        "kit_version": raw.get("kit_version"),
        "hosts": list(hosts.values()),
        "workers": workers,
        "lost_workers": lost,
        "refused": raw.get("refused", []),
    }


def unusable_reason(raw: dict, expected: int, wait_s: float) -> str | None:
    """Why a fleet storm did not run (a refused worker, too few workers), or None."""
    if raw.get("refused"):
        return "; ".join(f"worker on {r.get('host')} ({r.get('address')}) {r.get('message')}" for r in raw["refused"])
    if raw.get("started_at") is None:
        return (
            f"{len(raw.get('workers', {}))} of {expected} worker process(es) connected within {wait_s:.0f}s: "
            f"run `hongbao worker --master {raw.get('master')}` on each generator machine (see locust.log)"
        )
    return None
