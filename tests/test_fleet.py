"""Fleet storms across hosts: a grab service, a Locust master (``hongbao storm --master``) and two
``hongbao worker`` machines, each a network namespace of its own on a private bridge (as root),
else loopback addresses on this machine (the test prints which). Storms of a few seconds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hongbao.loadtests.storm import procs
from tests.support.hosts import Hosts, make_hosts

HONGBAO = [sys.executable, "-m", "hongbao.harness.cli"]


def wait_http(hosts: Hosts, from_host: str, url: str, timeout_s: float = 40.0) -> None:
    """GET ``url`` from ``from_host`` until it answers."""
    probe = [sys.executable, "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)", url]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if subprocess.run(hosts.command(from_host, probe), capture_output=True, timeout=20).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer from {from_host} within {timeout_s:.0f}s")


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s")


def start_fleet(hosts: Hosts, tmp: Path, master_args: list[str]) -> tuple[subprocess.Popen, dict]:
    """Service on svc; ``hongbao <master_args> --host SVC --master --bind MASTER:PORT --expect-workers 2``
    on master; one ``hongbao worker`` on w1 and on w2. Returns the master process and the workers by host."""
    svc_port, master_port = procs.free_port(), procs.free_port()
    svc = f"http://{hosts.address('svc')}:{svc_port}"
    hosts.popen(
        "svc",
        HONGBAO + ["serve", "--host", hosts.address("svc"), "--port", str(svc_port), "--allow-remote", "--seed", "5"],
        tmp / "service.log",
    )
    wait_http(hosts, "master", svc + "/healthz")
    bind = f"{hosts.address('master')}:{master_port}"
    master = hosts.popen(
        "master",
        HONGBAO
        + master_args
        + ["--host", svc, "--allow-remote-target", "--master", "--bind", bind, "--expect-workers", "2"],
        tmp / "master.log",
    )
    workers = {
        name: hosts.popen(name, HONGBAO + ["worker", "--master", bind, "--name", name], tmp / f"{name}.log")
        for name in ("w1", "w2")
    }
    return master, workers


def fleet_storm(hosts: Hosts, tmp: Path, duration: str) -> tuple[subprocess.Popen, dict]:
    return start_fleet(
        hosts, tmp, ["storm", "--scenario", "smoke", "--duration", duration, "--out", str(tmp / "run"), "--no-progress"]
    )


def finish(master: subprocess.Popen, tmp: Path, mode: str) -> dict:
    code = master.wait(timeout=150)
    print(f"fleet hosts: {mode}" + ("" if mode == "netns" else " (no network namespaces here: loopback addresses)"))
    print((tmp / "master.log").read_text()[-2500:])
    storm = json.loads((tmp / "run" / "storm.json").read_text())
    assert code == 0, storm["exit"]
    return storm


@pytest.mark.slow
@pytest.mark.storm
def test_fleet_storm_across_hosts(tmp_path):
    with make_hosts(["svc", "master", "w1", "w2"]) as hosts:
        master, workers = fleet_storm(hosts, tmp_path, "4s")
        storm = finish(master, tmp_path, hosts.mode)
        for w in workers.values():
            assert w.wait(timeout=30) == 0
    fleet = storm["fleet"]
    assert storm["audit"]["ok"] and storm["exit"]["name"] == "OK"
    assert fleet["connected_workers"] == 2 and fleet["lost_workers"] == [] and fleet["refused"] == []
    by_host = {h["host"]: h for h in fleet["hosts"]}
    assert set(by_host) == {"w1", "w2"}
    assert all(h["grabs"] > 0 for h in by_host.values())
    # every new grab of the storm came from one of the two workers, counted once
    assert sum(h["grabs"] for h in by_host.values()) == storm["totals"]["grabs_ok"]
    if hosts.mode == "netns":  # each worker reached the master from its own host's address
        assert {n: h["addresses"] for n, h in by_host.items()} == {n: [hosts.address(n)] for n in ("w1", "w2")}


@pytest.mark.slow
@pytest.mark.storm
def test_fleet_storm_goes_on_without_a_killed_worker(tmp_path):
    with make_hosts(["svc", "master", "w1", "w2"]) as hosts:
        master, workers = fleet_storm(hosts, tmp_path, "9s")
        progress = tmp_path / "run" / "progress.json"

        def grabbing() -> bool:
            try:
                return json.loads(progress.read_text()).get("grabs_ok", 0) > 0
            except (OSError, ValueError):
                return False

        wait_for(grabbing, 90, "the fleet storm grabbing")
        locust_worker = psutil.Process(workers["w2"].pid).children()[0]  # the Locust worker process
        victim_pid = locust_worker.pid
        locust_worker.kill()  # SIGKILL by PID
        storm = finish(master, tmp_path, hosts.mode)
    fleet = storm["fleet"]
    assert storm["audit"]["ok"] and storm["exit"]["name"] == "OK"
    assert [(w["host"], w["pid"]) for w in fleet["lost_workers"]] == [("w2", victim_pid)]
    assert fleet["lost_workers"][0]["lost"] == "stopped sending heartbeats"
    assert {h["host"]: h["lost_processes"] for h in fleet["hosts"]} == {"w1": 0, "w2": 1}
    report = subprocess.run(HONGBAO + ["report", str(tmp_path / "run")], capture_output=True, text=True)
    assert report.returncode == 0
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Fleet" in md and f"pid {victim_pid}: stopped sending heartbeats (last report at" in md


def _storm_with_one_worker(tmp_path: Path, worker_cwd: Path, **cfg) -> tuple:
    """A 3 s fleet storm on loopback, its master in-process, one ``hongbao worker`` run in
    ``worker_cwd``; returns the outcome, the worker's exit code and output."""
    from hongbao.loadtests.storm import scenario
    from hongbao.loadtests.storm.run import StormConfig, run_storm

    port = procs.free_port()
    worker = subprocess.Popen(
        HONGBAO + ["worker", "--master", f"127.0.0.1:{port}"],
        cwd=worker_cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        outcome = run_storm(
            StormConfig(
                scenario=scenario.load("smoke").with_overrides(duration_s=3),
                out_dir=tmp_path / "run",
                master=("127.0.0.1", port),
                expect_workers=1,
                progress=False,
                **cfg,
            )
        )
        output, _ = worker.communicate(timeout=60)
    finally:
        procs.stop(worker)
    return outcome, worker.returncode, output


@pytest.mark.slow
@pytest.mark.storm
def test_worker_of_another_kit_version_is_refused(tmp_path, monkeypatch):
    from hongbao.loadtests.storm import fleet

    here = fleet.kit_version()
    monkeypatch.setattr(fleet, "kit_version", lambda: "9.9.9-master")  # the master's kit is another release
    outcome, code, output = _storm_with_one_worker(tmp_path, tmp_path)
    assert outcome.exit.name == "UNUSABLE"
    assert f"this worker runs hongbao-bench {here}, the master runs hongbao-bench 9.9.9-master" in outcome.reasons[0]
    assert code == 2 and "refused" in output and "9.9.9-master" in output and here in output


@pytest.mark.slow
@pytest.mark.storm
def test_worker_without_the_adapter_module_says_so(tmp_path, monkeypatch):
    master_dir, worker_dir = tmp_path / "master", tmp_path / "worker"
    master_dir.mkdir()
    worker_dir.mkdir()
    (master_dir / "only_on_master.py").write_text(
        "from hongbao.loadtests.adapters.reference import ReferenceAdapter as Adapter\n"
    )
    monkeypatch.chdir(master_dir)  # importable by the master (its folder), not on the worker
    monkeypatch.syspath_prepend(str(master_dir))
    svc_port = procs.free_port()
    service = subprocess.Popen(
        HONGBAO + ["serve", "--port", str(svc_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        procs.wait_healthy(f"http://127.0.0.1:{svc_port}")
        outcome, code, output = _storm_with_one_worker(
            tmp_path, worker_dir, adapter="only_on_master:Adapter", host=f"http://127.0.0.1:{svc_port}"
        )
    finally:
        procs.stop(service)
    assert outcome.exit.name == "UNUSABLE"
    assert (
        "the adapter 'only_on_master:Adapter' the master storms with is not importable on this worker"
        in outcome.reasons[0]
    )
    assert "No module named 'only_on_master'" in outcome.reasons[0]
    assert code == 2 and "not importable on this worker" in output


@pytest.mark.slow
@pytest.mark.storm
def test_fleet_capacity_ramp_across_hosts(tmp_path):
    """``hongbao capacity`` drives the same fleet: an open-model ramp of offered grabs/s whose grabs
    come from both worker hosts."""
    with make_hosts(["svc", "master", "w1", "w2"]) as hosts:
        master, _ = start_fleet(
            hosts,
            tmp_path,
            [
                "capacity",
                "--steps",
                "2",
                "--step-seconds",
                "3",
                "--start-rate",
                "100",
                "--step-rate",
                "200",
                "--no-report",
                "--out",
                str(tmp_path / "cap"),
            ],
        )
        code = master.wait(timeout=180)
        print(f"fleet hosts: {hosts.mode}" + ("" if hosts.mode == "netns" else " (loopback addresses)"))
        print((tmp_path / "master.log").read_text()[-3000:])
    assert code == 0
    (ramp,) = json.loads((tmp_path / "cap" / "capacity.json").read_text())["ramps"]
    assert ramp["audit_ok"] is True and ramp["model"] == "open"
    assert [s["offered_per_second"] for s in ramp["steps"]] == [100, 300]
    hosts_grabs = {h["host"]: h["grabs"] for h in ramp["fleet"]["hosts"]}
    assert set(hosts_grabs) == {"w1", "w2"} and all(n > 0 for n in hosts_grabs.values())
    assert "2 Locust worker(s) on 2 host(s)" in ramp["label"]
    assert ramp["knee"]["offered_per_second"] in (100, 300) or ramp["knee"]["grabs_per_second"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--master", "nohost.invalid:5557"], "--master nohost.invalid: cannot resolve it"),
        (["--master", ":5557"], "--master must name the master's host"),
        (["--master", "127.0.0.1:0"], "--master must look like HOST:PORT"),
        (["--master", "127.0.0.1", "--processes", "0"], "--processes must be >= 1"),
    ],
)
def test_worker_bad_input_exits_2_naming_the_flag(argv, message, capsys):
    from hongbao.harness.cli import main

    assert main(["worker", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_lost_open_model_worker_names_the_arrivals_nobody_sent():
    from hongbao.loadtests.storm import fleet
    from hongbao.loadtests.storm.arrivals import plan_for

    plan = plan_for("steady", {"rate": 100}, duration_s=10, time_unit_s=1.0, hot_release_s=0.0)
    raw = {
        "master": "10.0.0.5:5557",
        "workers": {
            "a": {"client_id": "a", "host": "w1", "pid": 1, "grabs": 500, "grab_requests": 500, "lost": None},
            "b": {
                "client_id": "b",
                "host": "w2",
                "pid": 2,
                "grabs": 100,
                "grab_requests": 100,
                "lost": "stopped sending heartbeats",
                "lost_at_s": 6.0,
                "last_report_s": 2.0,
            },
        },
    }
    summary = fleet.summary(raw, 2, plan)
    (lost,) = summary["lost_workers"]
    assert lost["host"] == "w2" and lost["open_model_arrivals_not_sent"] == 400  # (10 - 2) s x 100/s / 2
    assert {h["host"]: (h["grabs"], h["lost_processes"]) for h in summary["hosts"]} == {"w1": (500, 0), "w2": (100, 1)}
    assert "open_model_arrivals_not_sent" not in fleet.summary(raw, 2)["lost_workers"][0]  # closed model
