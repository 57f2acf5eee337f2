"""The gate across processes and across runs, on constructed figures and the golden A/A runs.

Per-process figures are constructed (as ``hongbao bench --processes K --base-ref`` records them);
the between-run spread is recorded by merging the two real golden A/A runs as repeats.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hongbao.harness import bench, repeats, stats
from hongbao.harness import compare as cmp
from hongbao.harness.cli import main
from hongbao.harness.results import load_run
from tests.support.bench_runs import GOLDEN, REPO, scaled_copy

THRESHOLDS = str(REPO / "seeds" / "thresholds.toml")
SERIAL = "bench_split[double_mean-serial-c10-n20000]"


def compare(capsys, *args: str) -> tuple[int, str]:
    code = main(["compare", *args])
    return code, capsys.readouterr().out


def with_processes(dst: Path, ratios: dict[str, list[float]]) -> Path:
    """aa_run1 where the named benchmarks carry per-process ratios new / base beside their samples."""
    doc = json.loads((GOLDEN / "aa_run1.json").read_text())
    for b in doc["benchmarks"]:
        for match, values in ratios.items():
            if match in b["name"]:
                b["extra_info"].update(
                    base_seconds_samples=b["stats"]["data"],
                    base_commit="a" * 40,
                    vs_base=float(np.median(values)),
                    repeat_vs_base=values,
                )
    dst.write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize(
    "ratios, code, word",
    [
        ([1.003, 0.996, 1.001, 0.999, 1.002, 0.998], 0, "no significant change"),  # A/A
        ([1.051, 1.047, 1.055, 1.049, 1.052, 1.046], 1, "REGRESSION"),  # a planted 5%
        ([0.91, 0.93, 0.90, 0.92, 0.91, 0.90], 0, "faster"),  # faster never fails
        ([0.95, 1.12, 1.00, 1.08, 0.97, 1.04], 0, "no significant change"),  # one unlucky layout each way
    ],
)
def test_base_pairs_from_several_processes_are_judged_across_the_processes(capsys, tmp_path, ratios, code, word):
    new = with_processes(tmp_path / "new.json", {"double_mean-serial-": ratios})
    got, out = compare(capsys, str(GOLDEN / "aa_run1.json"), str(new), "--thresholds", THRESHOLDS)
    assert got == code, out
    row = next(line for line in out.splitlines() if "double_mean-serial-c10-n20000" in line)
    assert word in row and "aaaaaaaaaaaa beside it, 6 processes" in row
    if code == 1:
        assert "in each of 6 processes (geometric mean of the per-process median ratios" in out


def test_across_processes_is_a_t_test_of_the_log_ratios():
    ratios = np.array([1.05, 1.04, 1.06, 1.05])
    d = stats.across_processes(ratios, np.ones(3), np.ones(3), confidence=0.99)
    assert d.change == pytest.approx(np.exp(np.mean(np.log(ratios))) - 1)
    assert d.ratio_ci[0] < 1 + d.change < d.ratio_ci[1]
    assert d.p_value < 0.01 and d.effect_size == 1.0
    with pytest.raises(ValueError, match="need >= 2 processes"):
        stats.across_processes(np.array([1.0]), np.ones(2), np.ones(2))


def test_merge_keeps_every_process_figure_and_the_side_that_went_first(tmp_path):
    a = json.loads(with_processes(tmp_path / "a.json", {SERIAL: [1.0]}).read_text())
    docs = []
    for vs, first in [(1.02, "base"), (0.97, "new"), (1.00, "base")]:
        doc = json.loads(json.dumps(a))
        doc["hongbao"]["first"] = first
        for b in doc["benchmarks"]:
            b["extra_info"]["vs_base"] = vs
        docs.append(doc)
    merged = repeats.merge(docs)
    b = next(b for b in merged["benchmarks"] if b["name"] == SERIAL)
    assert b["extra_info"]["repeat_vs_base"] == [1.02, 0.97, 1.00]
    assert b["extra_info"]["repeat_first"] == ["base", "new", "base"]
    assert b["extra_info"]["picked_from_repeat"] == 3 and len(b["extra_info"]["repeat_gated_medians"]) == 3


def test_alternating_pair_can_start_with_the_new_side():
    log: list[str] = []
    pair = bench.AlternatingPair(lambda: log.append("base"), lambda: log.append("new"), lambda: 0.0, first="new")
    for _ in range(2):
        pair.before_round()
    assert pair.order == ["new-first", "base-first"]
    assert log == ["new", "new", "base", "base", "base", "new"]
    with pytest.raises(ValueError, match="first must be"):
        bench.AlternatingPair(lambda: None, lambda: None, lambda: 0.0, first="old")


@pytest.fixture()
def recorded_base(tmp_path) -> Path:
    """A baseline that recorded its between-run spread: the two real A/A runs merged as repeats."""
    docs = [json.loads((GOLDEN / name).read_text()) for name in ("aa_run1.json", "aa_run2.json")]
    path = tmp_path / "base.json"
    path.write_text(json.dumps(repeats.merge(docs)))
    return path


def test_the_between_run_spread_is_pooled_per_implementation(recorded_base):
    spreads = repeats.between_run_spread([load_run(recorded_base)])
    assert set(spreads) == {"python", "serial", "parallel"}
    sd, df = spreads["serial"]
    assert df == 5 and 0.01 < sd < 0.06  # the golden pair's serial cases differ by -4.8% to +6.3%


def test_a_plain_run_against_the_golden_aa_is_clean_and_a_large_slowdown_is_caught(capsys, tmp_path, recorded_base):
    code, out = compare(capsys, str(recorded_base), str(GOLDEN / "aa_run2.json"), "--thresholds", THRESHOLDS)
    assert code == 0, out
    assert "spread" in out and "recorded" in out
    slow = scaled_copy(GOLDEN / "aa_run2.json", tmp_path / "slow.json", 1.6, match="-serial-")
    code, out = compare(capsys, str(recorded_base), str(slow), "--thresholds", THRESHOLDS)
    assert code == 1, out
    assert "(5 df recorded)" in out and "Bonferroni" in out


def test_significant_but_undecidable_is_inconclusive_exit_5(capsys, tmp_path, recorded_base):
    """double_mean serial x 1.4: beyond what whole runs move (the recorded spread, 5 df), but the
    interval reaches both sides of the allowed 10%: the data cannot decide."""
    slow = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "slow.json", 1.4, match="double_mean-serial-")
    result = cmp.compare_runs(
        load_run(recorded_base), load_run(slow), cmp.Thresholds(), cmp.load_thresholds(Path(THRESHOLDS))[1]
    )
    assert [r.verdict for r in result.rows if r.name == SERIAL] == [cmp.INCONCLUSIVE]
    assert not result.regressions
    code, out = compare(capsys, str(recorded_base), str(slow), "--thresholds", THRESHOLDS)
    assert code == 5 and "Inconclusive" in out


def test_two_plain_runs_of_unchanged_code_17_9_percent_apart_are_not_a_regression(capsys, tmp_path):
    """Plain runs of unchanged code can sit +12.6% to +17.9% apart on serial cases; with no recorded
    spread the shipped thresholds assume 10% per run, so +17.9% is no significant change."""
    moved = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "moved.json", 1.179, match="-serial-")
    code, out = compare(capsys, str(GOLDEN / "aa_run1.json"), str(moved), "--thresholds", THRESHOLDS)
    assert code == 0, out
    assert "spread 10.0% (assumed)" in out


def test_spread_in_a_thresholds_rule_is_read_as_a_fraction(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[[rule]]\nmatch = "*"\njudged = "cross-run"\nspread = "7%"\n')
    _, rules = cmp.load_thresholds(path)
    assert cmp.thresholds_for("x-serial-c2-n1", cmp.Thresholds(), rules, cmp.CROSS_RUN).spread == pytest.approx(0.07)


def test_each_process_times_fewer_rounds_but_the_processes_together_more():
    assert repeats.min_rounds_per_process(15, 5) == 6 and repeats.min_rounds_per_process(15, 2) == 15
    assert repeats.min_rounds_per_process(15, 20) == 5
    cmd = repeats.child_command(
        profile="quick",
        out_dir=Path("x"),
        filter_expr=None,
        seed=1,
        impl_module="m",
        max_time_s=None,
        base_ref="abc",
        first="new",
        min_rounds=6,
    )
    spec = json.loads(cmd[-1])
    assert cmd[1:3] == ["-m", "hongbao.harness.repeats"] and spec["first"] == "new" and spec["min_rounds"] == 6
    from hongbao.harness.runner import pytest_args

    args = pytest_args("quick", Path("b.json"), None, 1, "m", base_ref="abc", first="new", min_rounds=6)
    assert "--hongbao-first=new" in args and "--hongbao-min-rounds=6" in args


def test_a_paired_run_folder_is_confirmed_twice_unless_told_otherwise(capsys, tmp_path, monkeypatch):
    """A regression in a run folder timed beside a base commit is re-run DEFAULT_CONFIRM times before
    it fails the gate; re-runs are recorded here, not run (they would reproduce it: the same figures)."""
    from hongbao.harness.commands import compare as command

    folder = tmp_path / "new"
    folder.mkdir()
    with_processes(folder / "benchmark.json", {"double_mean-serial-": [1.051, 1.047, 1.055, 1.049, 1.052, 1.046]})
    asked = []

    def rerun(new, names, times, err):
        asked.append(times)
        return [load_run(folder)] * times

    monkeypatch.setattr(command, "_rerun", rerun)
    code, out = compare(capsys, str(GOLDEN / "aa_run1.json"), str(folder), "--thresholds", THRESHOLDS)
    assert code == 1 and asked == [command.DEFAULT_CONFIRM] and "Reproduced by 2 re-run(s)" in out
    code, out = compare(capsys, str(GOLDEN / "aa_run1.json"), str(folder), "--thresholds", THRESHOLDS, "--confirm", "0")
    assert code == 1 and asked == [2]
    code, out = compare(
        capsys, str(GOLDEN / "aa_run1.json"), str(folder / "benchmark.json"), "--thresholds", THRESHOLDS
    )  # a file, not a folder: nowhere to write re-runs
    assert code == 1 and asked == [2]
