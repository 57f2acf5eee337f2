"""``hongbao fairness`` end to end (in-process): exit codes, fairness.json, plots, report section."""

from __future__ import annotations

import json

import pytest

from hongbao.harness.cli import main
from hongbao.harness.report.sections import fairness as section

SMALL = ["--envelopes", "3000", "--seed", "5"]


def _run(tmp_path, *args):
    code = main(["fairness", *SMALL, "--out", str(tmp_path), *args])
    doc = json.loads((tmp_path / "fairness.json").read_text()) if (tmp_path / "fairness.json").exists() else None
    return code, doc


def test_scorecard_writes_json_and_plots_and_exits_0(tmp_path, capsys):
    code, doc = _run(tmp_path, "--algorithms", "naive,line_cut,double_mean")
    assert code == 0
    assert doc["schema"] == "hongbao.fairness/1" and doc["envelopes"] == 3000 and doc["seed"] == 5
    assert doc["algorithms"]["naive"]["position_fair"] is False
    assert doc["algorithms"]["line_cut"]["position_fair"] is True
    for name in ("fairness_mean_std.png", "fairness_best_luck.png", "fairness_gini.png", "fairness_first_share.png"):
        assert (tmp_path / name).stat().st_size > 1000
    out = capsys.readouterr().out
    assert "NOT fair" in out and "alpha = 0.01" in out and "Std of share by grab position" in out
    sec = section.render(tmp_path)
    assert "| naive | no |" in sec.markdown and "NOT position-fair" in sec.markdown
    assert len(sec.figures) == 4


def test_same_seed_same_figures(tmp_path):
    _, a = _run(tmp_path / "a", "--algorithms", "beta", "--no-plots")
    _, b = _run(tmp_path / "b", "--algorithms", "beta", "--no-plots")
    for doc in (a, b):
        for entry in doc["algorithms"].values():
            entry.pop("split_seconds"), entry.pop("score_seconds")
    assert a == b


def test_broken_allocator_exits_4_and_is_not_scored(tmp_path, capsys):
    code, doc = _run(tmp_path, "--callable", "tests.support.allocators:loses_a_cent")
    assert code == 4
    entry = doc["algorithms"]["callable:tests.support.allocators:loses_a_cent"]
    assert entry["broken"] and entry["exactness"]["first_failure"]["envelope"] == 0
    assert "BROKEN" in capsys.readouterr().out
    assert "not scored" in section.render(tmp_path).markdown


def test_biased_allocator_fails_its_fairness_claim(tmp_path):
    code, doc = _run(tmp_path, "--callable", "tests.support.allocators:first_grabber_bias", "--no-plots")
    assert code == 1
    code, _ = _run(
        tmp_path,
        "--callable",
        "tests.support.allocators:first_grabber_bias",
        "--callable-claim",
        "unfair",
        "--no-plots",
    )
    assert code == 0


def test_calibration_over_repeated_seeds(tmp_path):
    code, doc = _run(
        tmp_path,
        "--algorithms",
        "line_cut,naive",
        "--repeat-seeds",
        "20",
        "--calibration-envelopes",
        "500",
        "--no-plots",
    )
    assert code == 0
    assert list(doc["calibration"]) == ["line_cut"]  # only algorithms that claim fairness
    assert doc["calibration"]["line_cut"]["seeds"] == 20


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--algorithms", "bogus"], "algorithm must be one of"),
        (["--count", "0"], "count must be >= 1"),
        (["--total", "5", "--count", "10"], "total_cents must be >="),
        (["--alpha", "2"], "--alpha"),
        (["--envelopes", "1"], "--envelopes"),
        (["--callable", "nope"], "package.module:function"),
    ],
)
def test_bad_usage_exits_2_and_names_the_field(tmp_path, capsys, args, needle):
    assert main(["fairness", "--out", str(tmp_path), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "fairness.json").exists()


def test_help_answers(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fairness", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--callable" in out and "exit codes: 0" in out and "seeds/fairness.toml" in out


def test_section_is_none_without_fairness_json(tmp_path):
    assert section.render(tmp_path) is None


def test_forced_split_is_not_held_against_an_unfair_claim(tmp_path):
    # one person per envelope: every algorithm hands out the whole total, nothing to test
    code, doc = _run(tmp_path, "--count", "1", "--no-plots")
    assert code == 0
    assert all(e["testable"] is False for e in doc["algorithms"].values())
