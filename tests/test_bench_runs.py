"""``hongbao bench``: real (small) runs write pytest-benchmark's own JSON with the kit's figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hongbao.harness import bench
from tests.support.bench_runs import bench_run, hongbao

pytestmark = pytest.mark.slow

#: count 10, double_mean: Python baseline, serial, parallel with 2 threads and with 1 thread
FILTER = "double_mean and c10-"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return bench_run(tmp_path_factory.mktemp("bench") / "run", FILTER)


@pytest.fixture(scope="module")
def doc(run_dir):
    return json.loads((run_dir / "benchmark.json").read_text())


def by_impl(doc) -> dict[str, dict]:
    out = {}
    for b in doc["benchmarks"]:
        e = b["extra_info"]
        out[e["impl"] if e["impl"] != "parallel" else f"parallel-t{e['threads']}"] = b
    return out


def test_json_is_pytest_benchmark_format_with_raw_samples(doc):
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= doc.keys()
    assert len(doc["benchmarks"]) == 4
    for b in doc["benchmarks"]:
        data = b["stats"]["data"]
        assert len(data) == b["stats"]["rounds"] >= bench.PROFILES["quick"].min_rounds
        assert b["stats"]["min"] == min(data)
        # one paired RNG control per timed round
        assert len(b["extra_info"]["rng_fill_seconds_per_value_samples"]) == len(data)


def test_extra_info_figures_are_consistent_ratios(doc):
    b = by_impl(doc)
    py, serial, par = b["python"]["extra_info"], b["serial"]["extra_info"], b["parallel-t2"]["extra_info"]
    for item in b.values():
        e = item["extra_info"]
        assert e["shares_per_second"] == pytest.approx(e["shares_per_round"] / item["stats"]["median"])
        per_share = item["stats"]["median"] / e["shares_per_round"]
        assert e["fraction_of_rng_limit"] == pytest.approx(e["rng_fill_seconds_per_value"] / per_share)
    assert serial["compile_seconds"] > 0 and par["compile_seconds"] > 0
    assert "compile_seconds" not in py
    med = {k: v["stats"]["median"] / v["extra_info"]["shares_per_round"] for k, v in b.items()}
    assert serial["speedup_vs_python"] == pytest.approx(med["python"] / med["serial"])
    assert par["parallel_speedup_unpaired"] == pytest.approx(med["serial"] / med["parallel-t2"])
    # the headline figure: each parallel round against a serial run of the same batch just before it
    for name in ("parallel-t2", "parallel-t1"):
        data, e = b[name]["stats"]["data"], b[name]["extra_info"]
        assert len(e["paired_serial_seconds_samples"]) == len(data)
        ratios = [s / p for s, p in zip(e["paired_serial_seconds_samples"], data, strict=True)]
        assert e["parallel_speedup"] == pytest.approx(bench.median(ratios))
    assert "paired_serial_seconds_samples" not in serial
    for name in ("parallel-t2", "parallel-t1"):
        q1, q3 = b[name]["extra_info"]["parallel_speedup_quartiles"]
        assert q1 <= b[name]["extra_info"]["parallel_speedup"] <= q3


def test_pytest_benchmark_compare_reads_the_json(run_dir):
    exe = Path(sys.executable).parent / "pytest-benchmark"  # the console script pytest-benchmark installs
    res = subprocess.run(
        [str(exe), "compare", str(run_dir / "benchmark.json")], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "double_mean-serial-c10-n20000" in res.stdout


def test_run_records_its_time_per_benchmark(doc):
    assert doc["hongbao"]["max_time_s"] == bench.PROFILES["quick"].max_time_s


@pytest.mark.parametrize("value", ["0", "-1", "601"])
def test_max_time_out_of_range_is_unusable(tmp_path, value):
    res = hongbao("bench", "--max-time", value, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    assert "--max-time must be > 0" in res.stderr  # the duration parser's words, or bench's own range check
    assert value != "601" or "<= 600 seconds" in res.stderr
    assert not (tmp_path / "x").exists()


def test_max_time_sets_the_rounds_of_a_run(tmp_path):
    """1 ms of 200k-share rounds asks for fewer rounds than the profile's minimum, which is what it gets."""
    out = bench_run(tmp_path / "short", "double_mean-serial-c10-", "--max-time", "0.001")
    short = json.loads((out / "benchmark.json").read_text())
    assert short["hongbao"]["max_time_s"] == 0.001
    assert [b["stats"]["rounds"] for b in short["benchmarks"]] == [bench.PROFILES["quick"].min_rounds]


def test_filter_that_selects_nothing_is_unusable(tmp_path):
    res = hongbao("bench", "--filter", "no_such_algorithm", "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    assert "selects no benchmark" in res.stderr


def test_quick_profile_keeps_python_batches_small():
    for case in bench.cases(bench.PROFILES["quick"]):
        if case.impl == bench.PYTHON:
            assert case.shares <= 10_000
        else:
            assert case.shares <= 200_000
    ids = [c.id for c in bench.cases(bench.PROFILES["full"])]
    assert len(ids) == len(set(ids))
    assert "double_mean-serial-c10-n1000000" in ids  # the 10**6-envelope figure


def test_report_plots_the_paired_rounds_and_gives_the_spread(run_dir):
    from hongbao.harness.cli import main

    assert main(["report", str(run_dir)]) == 0
    md = (run_dir / "report.md").read_text()
    assert re.search(
        r"\| parallel \(2 threads\) vs serial \| \d+\.\d\d \(quartiles \d+\.\d\d-\d+\.\d\d\) \| 1\.7 \|", md
    )
    html = (run_dir / "report.html").read_text()
    assert 'alt="bench_parallel_rounds"' in html
