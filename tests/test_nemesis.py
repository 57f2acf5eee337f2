"""A service the kit did not start, soaked through its adapter under a command nemesis: the example
yuan service runs as its own process, and shell commands (tests/support/yuan_ctl.py, as a team
would use docker or systemctl) kill it, restart it and pause it. Durable (journal fsynced before
each answer): nothing acknowledged is lost, exit 0. The planted bugs fail the soak with exit 4:
``lose-acks`` (answers before the journal has the open) and ``double-pay`` (a resent grab paid twice)."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hongbao.harness.cli import main
from hongbao.loadtests.adapters.http import wait_ready
from hongbao.loadtests.examples.yuan_adapter import YuanAdapter
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.procs import free_port
from tests.support import yuan_ctl

CTL = Path(yuan_ctl.__file__)
ADAPTER = "hongbao.loadtests.examples.yuan_adapter:YuanAdapter"
SCHEDULE = "kill-service@2s,pause-service@4.5s+2.5s,restart-service@8s"


@contextlib.contextmanager
def _service(tmp_path: Path, *service_args: str) -> Iterator[tuple[str, list[str]]]:
    """The example service, durable, started by the shell helper; yields its URL and the
    --nemesis-cmd flags that kill, restart, pause and resume it. Killed by its PID at the end."""
    state = tmp_path / "yuan"
    state.mkdir()
    port = free_port()
    (state / "args").write_text(
        "\n".join(["--port", str(port), "--journal", str(state / "journal.jsonl"), *service_args])
    )
    url = f"http://127.0.0.1:{port}"
    ctl = f"{shlex.quote(sys.executable)} {shlex.quote(str(CTL))}"
    yuan_ctl.main("start", state)
    try:
        wait_ready(YuanAdapter(), url, timeout_s=30)
        yield (
            url,
            [
                f
                for action in ("kill", "restart", "pause", "resume")
                for f in ("--nemesis-cmd", f"{action}={ctl} {action} {state}")
            ],
        )
    finally:
        yuan_ctl.main("kill", state)


def _soak(tmp_path: Path, *service_args: str, extra: tuple[str, ...] = ()) -> tuple[int, dict]:
    with _service(tmp_path, *service_args) as (url, nemesis):
        code = main(
            [
                "soak",
                "--duration",
                "10s",
                "--host",
                url,
                "--adapter",
                ADAPTER,
                "--schedule",
                SCHEDULE,
                "--concurrency",
                "8",
                "--count",
                "20",
                "--out",
                str(tmp_path / "run"),
                *extra,
                *nemesis,
            ]
        )
    return code, json.loads((tmp_path / "run" / "soak.json").read_text())


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--nemesis-cmd", "kill=true"], "give its --host"),
        (["--host", "http://127.0.0.1:9"], "--host needs a nemesis"),
        (["--host", "http://10.1.2.3:9000", "--nemesis-cmd", "kill=true"], "not a loopback address"),
        (["--host", "http://127.0.0.1:9", "--nemesis-cmd", "explode=true"], "ACTION one of kill, restart"),
        (["--host", "http://127.0.0.1:9", "--nemesis-cmd", "kill=true"], "can perform none of"),
        (
            ["--host", "http://127.0.0.1:9", "--nemesis-cmd", "kill=true", "--schedule", "kill-service@5s"],
            "restart-service but the nemesis offers only kill-service",
        ),
        (
            [
                "--host",
                "http://127.0.0.1:9",
                "--nemesis-cmd",
                "kill=true",
                "--nemesis-cmd",
                "restart=true",
                "--schedule",
                "kill-redis@5s",
            ],
            "only service faults",
        ),
        (["--host", "http://127.0.0.1:9", "--nemesis", "no.such.module:Chaos"], "cannot load it"),
    ],
)
def test_bad_nemesis_flags_are_refused_before_anything_starts(tmp_path, capsys, argv, words):
    assert main(["soak", "--duration", "30s", *argv, "--out", str(tmp_path / "run")]) == Exit.UNUSABLE
    assert words in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_durations_read_alike_everywhere(capsys):
    for command in (["soak"], ["faults", "--fault", "kill-service@1s"], ["storm"]):
        with pytest.raises(SystemExit):
            main([*command, "--duration", "bald"])
        assert "--duration must look like 30, 30s, 800ms, 2m, 1h or 1m30s" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_durable_service_loses_nothing_through_kill_pause_and_restart(tmp_path):
    code, doc = _soak(tmp_path)
    assert code == Exit.OK, doc["failures"]
    assert doc["lost_acks"] == 0 and doc["acknowledged"] > 500
    assert [f["kind"] for f in doc["faults"]] == ["kill-service", "pause-service", "restart-service"]
    assert all(f["check_ok"] and f["error"] is None for f in doc["faults"]), doc["faults"]
    assert [e["f"] for e in doc["history"]] == [
        "kill-service",
        "restart-service",
        "pause-service",
        "resume-service",
        "restart-service",
    ]
    assert doc["adapter"] == "YuanAdapter" and doc["nemesis"] == "CommandNemesis"
    assert doc["resent_acknowledged_grabs"] > 0 and doc["double_grants_on_resend"] == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "bug,needle,figure",
    [
        ("lose-acks", "missing from the ledger, promise was durable", "lost_acks"),
        ("double-pay", "second share", "double_grants_on_resend"),
    ],
)
def test_a_planted_bug_fails_the_soak(tmp_path, bug, needle, figure):
    code, doc = _soak(tmp_path, "--bug", bug)
    assert code == Exit.AUDIT_FAILED
    assert doc[figure] > 0
    assert any(needle in f for f in doc["failures"]), doc["failures"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_without_a_durability_promise_lost_acks_are_counted_not_failed(tmp_path):
    code, doc = _soak(tmp_path, "--bug", "lose-acks", extra=("--promise", "none"))
    assert code == Exit.OK, doc["failures"]
    assert doc["lost_acks"] > 0 and doc["lost_acks_beyond_promise"] == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_one_fault_run_on_a_service_the_kit_did_not_start(tmp_path):
    with _service(tmp_path) as (url, nemesis):
        code = main(
            [
                "faults",
                "--fault",
                "kill-service@1s",
                "--host",
                url,
                "--adapter",
                ADAPTER,
                "--out",
                str(tmp_path / "run"),
                *nemesis,
            ]
        )
    doc = json.loads((tmp_path / "run" / "faults.json").read_text())
    assert code == Exit.OK, doc
    assert doc["store"] == "external" and doc["audit_source"] == "ledger export"
    assert doc["acks"] > 0 and doc["lost_acks"] == 0
    assert [e["f"] for e in doc["history"]] == ["kill-service", "restart-service"]
