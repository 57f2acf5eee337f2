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
    for got, orig in zip(merged["benchmarks"], real["benchmarks"]):
        assert got["extra_info"]["picked_from_repeat"] == 3          # the x2 document
        assert got["stats"]["data"] == [x * 2.0 for x in orig["stats"]["data"]]
