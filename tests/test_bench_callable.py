"""``hongbao bench --callable``: a user's allocator from tests/support timed beside the kernels, in
the same benchmark.json with the same figures, and in the report; a broken one is not timed."""

from __future__ import annotations

import json

import pytest

from hongbao.harness.report.sections.bench import render
from tests.support.bench_runs import bench_run, hongbao

pytestmark = pytest.mark.slow
SPEC = "tests.support.allocators:fair_cuts"


def test_callable_is_timed_beside_the_kernels_with_their_ratios(tmp_path):
    run = bench_run(tmp_path / "run", "c10- and (double_mean or callable) and not parallel", "--callable", SPEC)
    doc = json.loads((run / "benchmark.json").read_text())
    by_id = {b["name"].split("[")[1].rstrip("]"): b for b in doc["benchmarks"]}
    assert set(by_id) == {
        "fair_cuts-callable-c10-n1000",
        "double_mean-python-c10-n1000",
        "double_mean-serial-c10-n20000",
    }
    mine, py = by_id["fair_cuts-callable-c10-n1000"], by_id["double_mean-python-c10-n1000"]
    e = mine["extra_info"]
    assert e["impl"] == "callable" and e["callable"] == SPEC and e["clock"] == "thread_time"
    assert e["count"] == 10 and e["envelopes"] == py["extra_info"]["envelopes"]  # the baseline's own size
    per_share = mine["stats"]["median"] / e["shares_per_round"]
    assert e["shares_per_second"] == pytest.approx(1 / per_share)
    assert e["fraction_of_rng_limit"] == pytest.approx(e["rng_fill_seconds_per_value"] / per_share)
    py_per_share = py["stats"]["median"] / py["extra_info"]["shares_per_round"]
    assert e["speedup_vs_python"] == pytest.approx(py_per_share / per_share)
    assert len(mine["stats"]["data"]) == len(e["rng_fill_seconds_per_value_samples"])
    md = render(run).markdown
    assert f"your allocator (`{SPEC}`)" in md and "| fair_cuts | callable | 1,000 |" in md


def test_a_broken_or_missing_callable_is_not_timed(tmp_path):
    res = hongbao(
        "bench",
        "--profile",
        "quick",
        "--filter",
        "callable and c10-",
        "--callable",
        "tests.support.allocators:loses_a_cent",
        "--out",
        str(tmp_path / "bad"),
    )
    assert res.returncode == 2 and "is not exact, so it is not timed" in res.stderr + res.stdout
    res = hongbao("bench", "--callable", "tests.support.allocators:nope", "--out", str(tmp_path / "none"))
    assert res.returncode == 2 and "has no attribute 'nope'" in res.stderr
    assert not (tmp_path / "none").exists()
