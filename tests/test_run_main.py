"""``hongbao run``, the main job, shrunk to its smallest honest form (each stage real, just short):
one benchmark case, a small scorecard, a 5 s storm, a 2-step ramp. Every stage must land in ONE
run folder with one report, and the summary must say where it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hongbao.harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--bench-filter",
    "double_mean-serial-c10",
    "--fairness-envelopes",
    "2000",
    "--storm-duration",
    "5s",
    "--ramp-steps",
    "2",
    "--step-seconds",
    "3",
    "--seed",
    "11",
]


@pytest.mark.slow
@pytest.mark.storm
def test_main_job_writes_one_report_from_every_stage(tmp_path):
    out = tmp_path / "run"
    wide = dict(os.environ, COLUMNS="300")  # rich wraps at 80 columns off a terminal: the report's path stays whole
    proc = subprocess.run(
        [sys.executable, "-m", "hongbao.harness.cli", "run", "--out", str(out), *SMALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=wide,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in (
        "benchmark.json",
        "fairness.json",
        "storm.json",
        "capacity.json",
        "summary.json",
        "report.md",
        "report.html",
        "capacity_latency.png",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["bench", "fairness", "storm", "capacity", "report"]
    assert all(s["status"] == "ok" for s in summary["stages"]), summary["stages"]
    assert summary["seed"] == 11 and summary["report"]["html"] == str(out.resolve() / "report.html")
    labels = [h[0] for h in summary["headlines"]]
    assert "double_mean, Numba serial" in labels and "post-storm audit" in labels
    report = (out / "report.md").read_text()
    for title in ("Summary (hongbao run)", "capacity"):
        assert title in report
    assert str(out.resolve() / "report.html") in proc.stdout  # the summary names the report


def test_a_failing_stage_is_reported_and_later_stages_still_run(tmp_path, capsys):
    """A storm scenario that does not exist fails its stage; the report is still written; exit != 0."""
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--out",
            str(out),
            "--skip",
            "bench",
            "--skip",
            "fairness",
            "--skip",
            "capacity",
            "--storm-scenario",
            str(tmp_path / "missing.toml"),
        ]
    )
    assert code == 2
    summary = json.loads((out / "summary.json").read_text())
    status = {s["name"]: s["status"] for s in summary["stages"]}
    assert status == {
        "bench": "skipped",
        "fairness": "skipped",
        "storm": "failed",
        "capacity": "skipped",
        "report": "ok",
    }
    assert (out / "report.html").is_file()
    assert "FAILED" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--fairness-envelopes", "1"], "--fairness-envelopes"),
        (["--ramp-steps", "0"], "--ramp-steps"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(argv, flag, tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "x"), *argv]) == 2
    assert flag in capsys.readouterr().err and not (tmp_path / "x").exists()
