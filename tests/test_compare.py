"""``hongbao compare``: A/A clean, injected slowdowns caught, small changes ignored, bad input -> 2.

The golden files tests/golden/aa_run1.json and aa_run2.json are two real quick-profile runs
(``hongbao bench --filter "c10-"``) of the same code, recorded one after the other on a shared
2-core machine.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from tests.support.bench_runs import GOLDEN, REPO, bench_run, hongbao

THRESHOLDS = str(REPO / "seeds" / "thresholds.toml")


def compare(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def scaled_copy(src: Path, dst: Path, factor: float, match: str = "") -> Path:
    """A copy of a benchmark JSON with the raw samples of benchmarks whose name contains ``match``
    multiplied by ``factor`` (a constructed input, for unit tests of the verdict rules only)."""
    doc = json.loads(src.read_text())
    for b in doc["benchmarks"]:
        if match in b["name"]:
            b["stats"]["data"] = [x * factor for x in b["stats"]["data"]]
            b["stats"]["median"] *= factor
    dst.write_text(json.dumps(doc))
    return dst


def test_aa_golden_runs_compare_clean(capsys):
    code, out, _ = compare(capsys, str(GOLDEN / "aa_run1.json"), str(GOLDEN / "aa_run2.json"),
                           "--thresholds", THRESHOLDS)
    assert code == 0, out
    assert "No significant regression" in out


def test_two_percent_change_is_not_a_regression(capsys, tmp_path):
    """NEW is constructed from BASE by scaling every raw sample by 1.02 (not a real run): a 2%
    change is under the 5% minimum effect, so no benchmark is even called slower."""
    new = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "new.json", 1.02)
    code, out, _ = compare(capsys, str(GOLDEN / "aa_run1.json"), str(new), "--thresholds", THRESHOLDS)
    assert code == 0
    assert "REGRESSION" not in out and " slower " not in out
    assert "no significant change" in out


def test_scaled_thirty_percent_is_caught_without_rules(capsys, tmp_path):
    """Constructed NEW (raw samples x 1.3): every gated benchmark regresses, with an explanation."""
    empty = tmp_path / "none.toml"
    empty.write_text("")
    new = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "new.json", 1.3, match="-serial-")
    code, out, _ = compare(capsys, str(GOLDEN / "aa_run1.json"), str(new), "--thresholds", str(empty))
    assert code == 1
    assert "double_mean-serial-c10-n20000: +30.0% slower" in out
    assert "wholly above the allowed 1 + 10%" in out


def test_parallel_cases_are_reported_but_not_gated(capsys, tmp_path):
    """Constructed NEW: parallel samples x 3. seeds/thresholds.toml reports them, exit 0."""
    new = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "new.json", 3.0, match="-parallel-")
    code, out, _ = compare(capsys, str(GOLDEN / "aa_run1.json"), str(new), "--thresholds", THRESHOLDS)
    assert code == 0
    assert "slower (not gated)" in out


def _folder(tmp_path: Path, name: str, fair: dict[str, bool], claimed: dict[str, bool] | None = None) -> Path:
    """A run folder: a real benchmark.json plus a fairness.json in the scorecard's schema
    (constructed verdicts; claims from the registry unless ``claimed`` overrides them)."""
    from kernels import ALGORITHMS

    d = tmp_path / name
    d.mkdir()
    shutil.copy(GOLDEN / "aa_run1.json", d / "benchmark.json")
    claimed = claimed or {}
    doc = {"schema": 1, "alpha": 0.01, "algorithms": {
        algo: {"position_fair": v, "min_p_value": 0.5 if v else 1e-9,
               "claimed_position_fair": claimed.get(algo, ALGORITHMS[algo].position_fair)}
        for algo, v in fair.items()}}
    (d / "fairness.json").write_text(json.dumps(doc))
    return d


def test_fair_to_unfair_for_a_position_fair_algorithm_is_a_regression(capsys, tmp_path):
    base = _folder(tmp_path, "base", {"line_cut": True, "naive": False})
    new = _folder(tmp_path, "new", {"line_cut": False, "naive": False})
    code, out, _ = compare(capsys, str(base), str(new), "--thresholds", THRESHOLDS)
    assert code == 1
    assert "line_cut is registered position-fair" in out


def test_naive_is_not_claimed_fair_so_no_fairness_regression(capsys, tmp_path):
    base = _folder(tmp_path, "base", {"naive": True})
    new = _folder(tmp_path, "new", {"naive": False})
    code, _, _ = compare(capsys, str(base), str(new), "--thresholds", THRESHOLDS)
    assert code == 0


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.json", "no such file or folder"),
    (lambda d: (d / "x.json").write_text("{not json") and d / "x.json", "not JSON"),
    (lambda d: (d / "x.json").write_text('{"rows": []}') and d / "x.json", "no 'benchmarks' list"),
    (lambda d: (d / "run").mkdir() or d / "run", "run folder has no benchmark.json"),
    (lambda d: (d / "x.json").write_text(json.dumps({"benchmarks": [{"name": "b", "stats": {"median": 1}}]}))
     and d / "x.json", "has no raw samples"),
])
def test_unusable_new_exits_2_naming_it(capsys, tmp_path, make, message):
    path = make(tmp_path)
    code, _, err = compare(capsys, str(GOLDEN / "aa_run1.json"), str(path))
    assert code == 2
    assert message in err and "NEW" in err


def test_bad_thresholds_and_flags_exit_2(capsys, tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text('[[rule]]\nmatch = "*"\nmax_regresion = 0.2\n')
    code, _, err = compare(capsys, str(GOLDEN / "aa_run1.json"), str(GOLDEN / "aa_run2.json"), "--thresholds", str(bad))
    assert code == 2 and "unknown key 'max_regresion'" in err
    code, _, err = compare(capsys, str(GOLDEN / "aa_run1.json"), str(GOLDEN / "aa_run2.json"),
                           "--max-regression", "ten")
    assert code == 2 and "--max-regression" in err


@pytest.fixture(scope="module")
def live_runs(tmp_path_factory):
    """Real runs: BASE, an A/A twin, and a run of the 30%-slowed kernel variant."""
    root = tmp_path_factory.mktemp("live")
    flt = "c10- and serial and (double_mean or naive)"
    base = bench_run(root / "base", flt)
    twin = bench_run(root / "twin", flt)
    slowed = bench_run(root / "slowed", flt, "--impl-module", "tests.support.slowed_kernel")
    return base, twin, slowed


@pytest.mark.slow
def test_live_aa_compares_clean(live_runs):
    base, twin, _ = live_runs
    res = hongbao("compare", str(base), str(twin), "--thresholds", THRESHOLDS, "--confirm", "2")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_live_injected_slowdown_is_caught_with_explanation(live_runs):
    base, _, slowed = live_runs
    res = hongbao("compare", str(base), str(slowed), "--thresholds", THRESHOLDS, "--confirm", "1")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "regression(s):" in res.stdout
    assert "double_mean-serial-c10-n20000: +" in res.stdout and "% slower" in res.stdout
    assert "Reproduced by 1 re-run(s)" in res.stdout


def test_confirm_keeps_only_regressions_a_rerun_reproduces(tmp_path):
    """Constructed NEW (serial samples x 1.3). A re-run that is the real, unscaled twin run does not
    reproduce it (verdict 'not confirmed'); a re-run scaled the same way does."""
    from harness import compare as cmp
    from harness.results import load_run

    base = load_run(GOLDEN / "aa_run1.json")
    new_path = scaled_copy(GOLDEN / "aa_run1.json", tmp_path / "new.json", 1.3, match="double_mean-serial-")
    result = cmp.compare_runs(base, load_run(new_path), cmp.Thresholds())
    assert [r.name for r in result.regressions] == ["bench_split[double_mean-serial-c10-n20000]"]
    cmp.confirm(result, base, [load_run(GOLDEN / "aa_run2.json")])
    assert not result.regressions
    assert cmp.NOT_CONFIRMED in {r.verdict for r in result.rows}

    result = cmp.compare_runs(base, load_run(new_path), cmp.Thresholds())
    again = scaled_copy(GOLDEN / "aa_run2.json", tmp_path / "again.json", 1.3, match="double_mean-serial-")
    cmp.confirm(result, base, [load_run(again)])
    assert len(result.regressions) == 1 and len(result.regressions[0].confirmations) == 1


def test_claim_recorded_in_fairness_json_wins_over_the_registry(capsys, tmp_path):
    """beta is registered position-fair, but only uncapped: a capped scorecard records
    claimed_position_fair = false, so fair -> unfair under that cap is not a regression."""
    base = _folder(tmp_path, "base", {"beta": True})
    new = _folder(tmp_path, "new", {"beta": False}, claimed={"beta": False})
    code, out, _ = compare(capsys, str(base), str(new), "--thresholds", THRESHOLDS)
    assert code == 0
    assert "fairness beta: position_fair True -> False (claimed False" in out
