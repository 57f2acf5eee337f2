"""The ``hongbao`` command line: every command answers --help, bad use exits 2 with a message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hongbao.harness.cli import COMMANDS, main


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_answers_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: hongbao {name}" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_storm_fault_with_a_bad_spec_is_unusable():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hongbao.harness.cli",
            "storm",
            "--scenario",
            "seeds/storms/smoke.toml",
            "--fault",
            "kill-the-moon@3s",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    assert "fault" in out.stderr.lower()
