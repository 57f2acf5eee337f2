"""``hongbao report``: report.md for a CI summary and one self-contained report.html with plots."""

from __future__ import annotations

import base64
import re
import shutil

from hongbao.harness.cli import main
from hongbao.harness.report.builder import section_names
from tests.support.bench_runs import GOLDEN


def run_folders(tmp_path):
    """Two saved runs under a results/ folder (real golden runs), so history has two points."""
    results = tmp_path / "results"
    older, newer = results / "20261125T100000Z", results / "20261125T110000Z"
    for d, src in ((older, "aa_run1.json"), (newer, "aa_run2.json")):
        d.mkdir(parents=True)
        shutil.copy(GOLDEN / src, d / "benchmark.json")
    return newer


def test_report_writes_markdown_and_self_contained_html(tmp_path, capsys):
    run = run_folders(tmp_path)
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "## Kernel benchmarks" in md
    assert "| double_mean | serial | 20,000 |" in md  # the count = 10 headline row
    html = (run / "report.html").read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    names = {alt for alt, _ in images}
    assert {"bench_throughput", "bench_speedup", "bench_threads", "bench_history"} <= names
    for _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table>" in html and 'src="http' not in html  # nothing fetched from elsewhere


def test_sections_are_ordered_bench_first_then_fairness_storm_capacity():
    names = section_names()
    known = [n for n in ("bench", "fairness", "storm", "capacity") if n in names]
    assert [n for n in names if n in known] == known
    assert "bench" in names


def test_missing_or_empty_run_folder_is_unusable(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert "no results to report" in capsys.readouterr().err


def test_the_benchmark_table_shows_same_run_ratios_to_the_base_commit_when_there_are_any():
    from hongbao.harness.report.sections.bench import all_rows_table

    plain = {
        "id": "double_mean-serial-c10-n20000",
        "median_s": 0.001,
        "shares_per_second": 2e8,
        "fraction_of_rng_limit": 1.0,
        "clock": "thread_time",
    }
    paired = {**plain, "base_commit": "0123456789abcdef", "vs_base": 1.2346, "vs_base_quartiles": [1.1, 1.3]}
    assert "base" not in all_rows_table([plain])[0]
    table = all_rows_table([paired, {**plain, "id": "double_mean-python-c10-n1000"}])
    assert "time / base (0123456789ab), same run" in table[0]
    assert table[2].endswith("| 1.235 (1.10-1.30) |") and table[3].endswith("|  |")


def test_saved_plots_hold_every_title_and_label_whole(tmp_path, monkeypatch):
    """The thread-scaling and history plots' titles, wider than their axes, stay inside the saved canvas."""
    import matplotlib.image

    from hongbao.harness.report import plots

    drawn = []
    real_close = plots.plt.close
    monkeypatch.setattr(plots.plt, "close", lambda fig=None: drawn.append(fig))
    row = {"algorithm": "double_mean", "count": 10, "envelopes": 20_000, "shares_per_second": 1e9}
    rows = [dict(row, impl="serial"), dict(row, impl="parallel", threads=1), dict(row, impl="parallel", threads=2)]
    saved = [
        plots.thread_scaling(rows, tmp_path / "threads.png"),
        plots.history(
            {"double_mean-serial-c10-n20000": [("20261125T100000Z", 1.2), ("baseline", 1.1)]},
            tmp_path / "history.png",
            "share rate / numpy fill rate",
        ),
    ]
    for fig, path in zip(drawn, saved, strict=True):
        renderer = fig.canvas.get_renderer()
        needed = fig.get_tightbbox(renderer)  # inches, every artist drawn
        height_px, width_px = matplotlib.image.imread(path).shape[:2]
        dpi = 90
        assert width_px / dpi >= needed.width - 0.02 and height_px / dpi >= needed.height - 0.02, path.name
        real_close(fig)


def test_history_plots_each_gated_case_by_commit_in_history_order_and_marks_the_bisected_commit(tmp_path):
    """Three saved runs whose per-process ratios to a base commit are constructed (as `hongbao bench
    --base-ref --processes 3` records them), at three commits of a real git history; their folder
    names run against the history, so only git can put them in order."""
    import json

    from hongbao.harness.report.sections import history
    from tests.support.planted_history import make_history

    shas = make_history(tmp_path / "repo", 3, planted_at=None)
    results = tmp_path / "repo" / "results"
    for name, sha, ratio in (("c-run", shas[0], 1.0), ("b-run", shas[1], 1.3), ("a-run", shas[2], 1.31)):
        doc = json.loads((GOLDEN / "aa_run1.json").read_text())
        doc["hongbao"]["commit"] = sha
        for b in doc["benchmarks"]:
            b["extra_info"].update(
                base_seconds_samples=b["stats"]["data"],
                base_commit="a" * 40,
                repeat_vs_base=[ratio * 0.99, ratio, ratio * 1.01],
            )
        (results / name).mkdir(parents=True)
        (results / name / "benchmark.json").write_text(json.dumps(doc))
    (results / "bisect-run").mkdir()
    (results / "bisect-run" / "bisect.json").write_text(json.dumps({"first_slower": {"commit": shas[1]}}))
    assert main(["report", str(results / "a-run")]) == 0
    md = (results / "a-run" / "report.md").read_text()
    assert "## " + history.TITLE in md and f"Marked: **{shas[1][:12]}**" in md
    assert f"| case | {shas[0][:12]} | {shas[1][:12]} | {shas[2][:12]} |" in md
    part = md.split("## " + history.TITLE, 1)[1]
    row = next(line for line in part.splitlines() if line.startswith("| double_mean-serial-c10-n20000 |"))
    assert row.split(" | ")[1].startswith("1.000") and row.split(" | ")[2].startswith("1.300")
    assert "history_by_commit" in (results / "a-run" / "report.html").read_text()
