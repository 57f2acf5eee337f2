"""The gate's calibration script (harness/calibrate.py) and its planted slowdowns, without timing asserts."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from hongbao import kernels
from hongbao.harness import calibrate
from tests.support import slowed_kernel_5, slowed_kernel_10


@pytest.mark.parametrize("module", [slowed_kernel_5, slowed_kernel_10])
def test_planted_slowdowns_split_exactly_like_the_kernels_into_the_callers_array(module):
    totals = np.array([1_000, 20_000, 777, 5_000] * 10, dtype=np.int64)
    want = kernels.split_batch(totals, 10, algorithm="double_mean", seed=3, parallel=False)
    out = np.empty_like(want)
    got = module.split_batch(totals, 10, algorithm="double_mean", seed=3, parallel=False, out=out)
    assert got is out and np.array_equal(got, want)


def test_planted_sizes_are_measured_for_every_serial_case():
    sizes = calibrate.measure_planted("tests.support.slowed_kernel_10", rounds=3)
    assert len(sizes) == 20 and all(k.split("-")[1] == "serial" for k in sizes)
    assert all(np.isfinite(v) and v > 0 for v in sizes.values())


def _record(series: str, code: int, changes: dict[str, float]) -> dict:
    return {
        "series": series,
        "exit": code,
        "bench_seconds": 1.0,
        "seconds": 2.0,
        "load_average_1m": 3.5,
        "rows": {k: {"change": v, "verdict": "x", "judged": "processes"} for k, v in changes.items()},
    }


def test_a_calibration_resumes_from_the_verdicts_already_written(tmp_path, capsys, monkeypatch):
    """Every run's verdict.json exists: nothing is run again (one_run would fail: no bench here),
    and the summary gives the rates from the recorded exits."""
    monkeypatch.setattr(calibrate, "one_run", lambda *a: pytest.fail("a finished run was run again"))
    flagged = iter(["REGRESSION", "no significant change"])
    monkeypatch.setattr(calibrate, "measure_planted", lambda *a: {"double_mean-serial-c10-n20000": 1.06})
    exits = {"aa": [0, 0], "slow5": [1, 0], "cross": [0, 5]}
    for series, codes in exits.items():
        for i, code in enumerate(codes, 1):
            where = tmp_path / series / f"run-{i}"
            where.mkdir(parents=True)
            rec = _record(series, code, {"double_mean-serial-c10-n20000": 0.05 if series == "slow5" else 0.001})
            if series == "slow5":
                rec["rows"]["double_mean-serial-c10-n20000"]["verdict"] = next(flagged)
            (where / "verdict.json").write_text(json.dumps(rec))
    code = calibrate.main(["--runs", "2", "--series", "aa,slow5,cross", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "false alarms 0/2" in out.out and "caught 1/2" in out.out and "clean 1/2" in out.out
    assert "+6.0%" in out.out  # the planted size as measured
    assert "aa run 2/2: exit 0" in out.err
    case = next(line for line in out.out.splitlines() if "double_mean-serial-c10-n20000" in line)
    assert "+6.0%" in case and "1/2" in case and "+5.0%" in case  # measured size, flagged, as the gate read it


def test_bad_flags_are_refused(capsys):
    assert calibrate.main(["--series", "aa,bogus"]) == 2
    assert calibrate.main(["--processes", "1"]) == 2


def test_the_default_series_runs_the_gate_with_only_the_flags_a_user_types(tmp_path, monkeypatch):
    """`default` leaves --processes to `hongbao bench`; `aa` passes CI's. Commands recorded, not run."""
    commands = []

    def record(args, log):
        commands.append(args)
        return 2  # as if the bench failed: one_run stops after the bench command

    monkeypatch.setattr(calibrate, "_hongbao", record)
    opts = argparse.Namespace(
        profile="quick",
        filter=None,
        base_ref="HEAD",
        processes=5,
        baseline=tmp_path,
        confirm=2,
        thresholds=tmp_path / "t.toml",
    )
    for series in ("default", "aa"):
        with pytest.raises(RuntimeError, match="bench failed"):
            calibrate.one_run(series, tmp_path / series, opts)
    default, aa = commands
    assert default[:1] == ["bench"] and "--base-ref" in default and "--processes" not in default
    assert aa[aa.index("--processes") + 1] == "5"
