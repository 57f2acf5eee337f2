"""The kit as a user gets it: the wheel in a fresh venv, run from an empty folder.

The wheel holds one top-level import package, ``hongbao`` (the repo's kernels/, harness/,
loadtests/ and seeds/ mapped into it); run folders land under ./results of the folder the command
runs in, and nothing is written beside the installed code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDERS = {"kernels": "kernels", "harness": "harness", "loadtests": "loadtests"}


def _python_folders() -> set[str]:
    found = set()
    for top in TOP_FOLDERS:
        for path in (ROOT / top).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add("hongbao." + ".".join(path.parent.relative_to(ROOT).parts))
    return found


def test_pyproject_lists_every_package_folder():
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert _python_folders() <= packages, sorted(_python_folders() - packages)
    assert all(p.startswith("hongbao.") for p in packages)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # setuptools keeps modules in build/lib across builds, and a module deleted from the tree
    # would still ship from there: every build starts from the sources alone
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
        cwd=out,
    )
    (path,) = out.glob("hongbao_bench-*.whl")
    return path


def test_wheel_has_one_top_level_package_and_the_seeds(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"hongbao"}, tops
    for shipped in (
        "hongbao/seeds/storms/smoke.toml",
        "hongbao/seeds/capacity/wechat-2017.toml",
        "hongbao/seeds/fairness.toml",
        "hongbao/seeds/thresholds.toml",
        "hongbao/loadtests/service/lua/grab.lua",
        "hongbao/harness/suites/pytest.ini",
    ):
        assert shipped in names, shipped


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its dependencies; returns its bin folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
    )
    return bin_dir


def _site_files(bin_dir: Path) -> set[Path]:
    done = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import hongbao.kernels, pathlib; print(pathlib.Path(hongbao.kernels.__file__).parents[1])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    package = Path(done.stdout.strip())
    return {p for p in package.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_installed_kit_runs_every_command_from_an_empty_folder(installed, tmp_path, record_property):
    """Every ``hongbao`` subcommand once, as a user runs it from the wheel (no extras installed);
    soak and faults shortened. The list of what ran is printed and recorded."""
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HONGBAO_CACHE_DIR"] = str(tmp_path / "numba-cache")
    before = _site_files(installed)
    ran: list[str] = []

    def hongbao(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(installed / "hongbao"), *args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, (
            f"hongbao {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        ran.append(" ".join(args))
        return done

    hongbao("storm", "--scenario", "smoke", "--duration", "4s", "--no-progress")
    hongbao("fairness", "--envelopes", "2000", "--no-plots")
    (work / "myalloc.py").write_text(
        "def equal(total, count):\n    return [total // count + (i < total % count) for i in range(count)]\n"
    )
    hongbao("fairness", "--callable", "myalloc:equal", "--envelopes", "500", "--no-plots")  # a module where we stand
    hongbao("bench", "--profile", "quick", "--filter", "double_mean and serial and c10-", "--max-time", "50ms")
    runs = sorted((work / "results").iterdir())
    found = {
        name for run in runs for name in ("storm.json", "fairness.json", "benchmark.json") if (run / name).is_file()
    }
    assert found == {"storm.json", "fairness.json", "benchmark.json"}, [list(r.iterdir()) for r in runs]
    storm = json.loads(next(r / "storm.json" for r in runs if (r / "storm.json").is_file()).read_text())
    assert storm["audit"]["ok"] is True
    bench = next(r for r in runs if (r / "benchmark.json").is_file())
    hongbao("compare", str(bench / "benchmark.json"), str(bench / "benchmark.json"))
    hongbao("report", str(bench))
    hongbao("soak", "--duration", "10s", "--nemesis", "kill-service@3s", "--concurrency", "8", "--out", "results/soak")
    assert json.loads((work / "results" / "soak" / "soak.json").read_text())["audit_ok"] is True
    hongbao(
        "faults",
        "--fault",
        "kill-service@1s",
        "--duration",
        "2s",
        "--store",
        "memory",
        "--envelopes",
        "4",
        "--users",
        "12",
    )
    hongbao(
        "capacity",
        "--steps",
        "2",
        "--step-seconds",
        "3s",
        "--start-rate",
        "50",
        "--step-rate",
        "50",
        "--no-report",
        "--out",
        "results/capacity",
    )
    hongbao(
        "run",
        "--skip",
        "bench",
        "--skip",
        "storm",
        "--skip",
        "capacity",
        "--fairness-envelopes",
        "500",
        "--out",
        "results/run",
    )
    _fleet_storm(installed, work, env, tmp_path)
    ran.append("worker --master 127.0.0.1:PORT (from another empty folder, for the fleet storm below)")
    ran.append("storm --scenario smoke --duration 4s --master --bind 127.0.0.1:PORT --expect-workers 1")
    _bisect_without_kernel_changes(installed, env, tmp_path)
    ran.append("bisect GOOD BAD --filter double_mean-serial-c10- (a range that leaves kernels/ alone)")
    _serve_once(installed, work, env)
    ran.append("serve --port PORT (until /healthz answers, then stopped)")
    print("\nsubcommands run from the wheel:\n  hongbao " + "\n  hongbao ".join(ran))
    record_property("subcommands_run", ran)
    from hongbao.harness.cli import COMMANDS

    assert {r.split()[0] for r in ran} == set(COMMANDS)
    # nothing written where we stand but the run folders (beside our own module and its bytecode)
    assert {p.name for p in work.iterdir()} - {"myalloc.py", "__pycache__"} == {"results"}

    for name in ("kernels", "harness", "loadtests"):
        done = subprocess.run(
            [str(installed / "python"), "-c", f"import {name}"], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, name
    # nothing new beside the installed code but Python's own bytecode
    added = {p for p in _site_files(installed) - before if p.suffix != ".pyc"}
    assert not added, sorted(map(str, added))
    assert any((tmp_path / "numba-cache").rglob("*.nbi")), "the kernels were cached outside the package"


def _fleet_storm(installed: Path, work: Path, env: dict, tmp_path: Path) -> None:
    """A fleet storm from the wheel: ``hongbao worker`` in a folder of its own gets the scenario
    from the master; the master's storm.json names the worker and the audit is clean."""
    from hongbao.loadtests import procs

    port = procs.free_port()
    elsewhere = tmp_path / "worker-machine"
    elsewhere.mkdir()
    worker = subprocess.Popen(
        [str(installed / "hongbao"), "worker", "--master", f"127.0.0.1:{port}"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        done = subprocess.run(
            [str(installed / "hongbao"), "storm", "--scenario", "smoke", "--duration", "4s", "--no-progress",
             "--master", "--bind", f"127.0.0.1:{port}", "--expect-workers", "1", "--out", "results/fleet"],
            cwd=work, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        worker_out, _ = worker.communicate(timeout=60)
    finally:
        procs.stop(worker)
    assert done.returncode == 0, f"fleet storm: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    storm = json.loads((work / "results" / "fleet" / "storm.json").read_text())
    assert storm["audit"]["ok"] is True
    hosts = storm["fleet"]["hosts"]
    assert len(hosts) == 1 and hosts[0]["grabs"] == storm["totals"]["grabs_ok"] > 0, (hosts, worker_out[-2000:])


def _bisect_without_kernel_changes(installed: Path, env: dict, tmp_path: Path) -> None:
    """``hongbao bisect`` from the wheel in a git repository whose range leaves kernels/ alone:
    nothing to time, "No slowdown", exit 0, bisect.json written."""
    repo = tmp_path / "repo"
    (repo / "kernels").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commits = []
    for i in range(3):
        (repo / ("kernels/k.py" if i == 0 else "notes.txt")).write_text(f"{i}\n")
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-q", "-m", f"c{i}"], check=True)
        commits.append(subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip())
    done = subprocess.run(
        [str(installed / "hongbao"), "bisect", commits[0], commits[2], "--filter", "double_mean-serial-c10-",
         "--out", str(tmp_path / "bisect")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((tmp_path / "bisect" / "bisect.json").read_text())["result"] == "no slowdown"


@pytest.mark.slow
def test_installed_kit_storms_the_example_service_through_its_adapter(installed, tmp_path):
    """What the README shows, from the wheel: the example service started by its module name as its
    own process, stormed through the example adapter named module:Class, its CPU from /metrics."""
    from hongbao.loadtests.storm.procs import free_port, stop

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    port = free_port()
    service = subprocess.Popen(
        [str(installed / "python"), "-m", "hongbao.loadtests.examples.yuan_service", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        from hongbao.loadtests.adapters.http import wait_ready
        from hongbao.loadtests.examples.yuan_adapter import YuanAdapter

        wait_ready(YuanAdapter(), url, timeout_s=30, proc=service)
        done = subprocess.run(
            [
                str(installed / "hongbao"),
                "storm",
                "--scenario",
                "smoke",
                "--duration",
                "4s",
                "--host",
                url,
                "--adapter",
                "hongbao.loadtests.examples.yuan_adapter:YuanAdapter",
                "--metrics",
                url + "/metrics",
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop(service)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    storm = json.loads((tmp_path / "run" / "storm.json").read_text())
    assert storm["audit"]["ok"] and storm["audit"]["source"] == "ledger export"
    assert storm["target"]["service_cpu_from"] == f"prometheus {url}/metrics"


def _serve_once(installed: Path, work: Path, env: dict) -> None:
    """``hongbao serve`` runs until stopped: start it, wait for /healthz, stop it by PID."""
    from hongbao.loadtests.procs import free_port, start, stop
    from hongbao.loadtests.storm.procs import wait_healthy

    port = free_port()
    proc = start([str(installed / "hongbao"), "serve", "--port", str(port)], cwd=work, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout_s=60, proc=proc)
    finally:
        stop(proc)
