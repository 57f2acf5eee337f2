"""``hongbao bench --repeat``: a baseline built from the median repeat of each benchmark."""

from __future__ import annotations

import json

from hongbao.harness import repeats
from tests.support.bench_runs import GOLDEN


def test_median_of_repeats_takes_each_benchmark_whole_from_the_middle_repeat():
    """Three documents built from one real run by scaling raw samples x1, x2, x3 (constructed)."""
    real = json.loads((GOLDEN / "aa_run1.json").read_text())
    docs = []
    for factor in (3.0, 1.0, 2.0):
        doc = json.loads(json.dumps(real))
        for b in doc["benchmarks"]:
            b["stats"]["data"] = [x * factor for x in b["stats"]["data"]]
        docs.append(doc)
    merged = repeats.merge(docs)
    assert merged["hongbao"]["repeats"] == 3
    assert len(merged["benchmarks"]) == len(real["benchmarks"])
    for got, orig in zip(merged["benchmarks"], real["benchmarks"], strict=True):
        assert got["extra_info"]["picked_from_repeat"] == 3  # the x2 document
        assert got["stats"]["data"] == [x * 2.0 for x in orig["stats"]["data"]]


def _processes_asked(monkeypatch, tmp_path, *flags: str) -> int | None:
    """How many fresh processes `hongbao bench FLAGS` asks for (the suites themselves are not run)."""
    from hongbao.harness import baseref
    from hongbao.harness.cli import main
    from hongbao.harness.commands import bench as command

    asked = []

    def stop(count, *args, **kwargs):
        asked.append(count)
        raise RuntimeError("stopped before running the suites")

    def single(**kwargs):
        asked.append(1)
        raise SystemExit(0)

    monkeypatch.setattr(repeats, "run_repeats", stop)
    monkeypatch.setattr(baseref, "extract", lambda *a, **k: None)
    monkeypatch.setattr(baseref, "prime_caches", lambda *a, **k: None)
    monkeypatch.setattr("hongbao.harness.runner.run_suites", single)
    assert command.repeats is repeats
    try:
        main(["bench", "--filter", "double_mean-serial-c10", "--out", str(tmp_path / "run"), *flags])
    except SystemExit:
        pass
    return asked[0] if asked else None


def test_a_base_ref_run_samples_several_layouts_unless_told_otherwise(monkeypatch, tmp_path):
    assert _processes_asked(monkeypatch, tmp_path, "--base-ref", "HEAD") == repeats.GATE_PROCESSES >= 5
    assert _processes_asked(monkeypatch, tmp_path, "--base-ref", "HEAD", "--processes", "1") == 1
    assert _processes_asked(monkeypatch, tmp_path) == 1
