"""The generator-CPU measurement (loadtests/storm/measure_generator.py): its arms' scenarios, its
CPU-per-grab arithmetic, and one short real run (real service, real Locust) that yields a figure for
every arm. The figures themselves are not asserted on: they are measurements, reported in the docs."""

from __future__ import annotations

import json

import pytest

from hongbao.loadtests.storm import measure_generator as mg
from hongbao.loadtests.storm import scenario as scen


def test_every_arm_grabs_from_hot_envelopes_as_large_as_the_plain_arms(tmp_path):
    closed = scen.load(mg.arm_scenario("countdown", "closed", 50, 0.0, tmp_path))
    opened = scen.load(mg.arm_scenario("steady", "open", 50, 8_000.0, tmp_path, tick_ms=0.0))
    for sc in (closed, opened):
        assert (sc.hot_count, sc.hot_total_cents, sc.hot_release_s) == (mg.PLAIN_COUNT, mg.PLAIN_TOTAL_CENTS, 0)
        assert sc.double_tap_share > 0 and sc.retry_share > 0 and sc.re_tap_share > 0  # features kept
    assert closed.model == "closed" and closed.shape_params["users"] == 50 + closed.senders
    assert opened.model == "open" and opened.shape_params["rate"] == 8_000.0 and opened.tick_ms == 0.0


def test_cpu_per_grab_is_read_after_the_warm_up_between_two_samples():
    samples = [
        {"t": 0.0, "cpu_s": 0.0, "grab_requests": 0},
        {"t": 1.0, "cpu_s": 0.5, "grab_requests": 10},
        {"t": 3.5, "cpu_s": 1.0, "grab_requests": 1_000},  # the window starts 2 s after the first grab
        {"t": 5.5, "cpu_s": 2.0, "grab_requests": 21_000},
    ]
    row = mg.per_grab_us(samples, warm_s=2.0)
    assert row["cpu_us_per_grab"] == pytest.approx(1.0 / 20_000 * 1e6)
    assert row["grabs"] == 20_000 and row["cpu_percent"] == 50.0
    with pytest.raises(RuntimeError, match="fewer than two"):
        mg.per_grab_us(samples[:2], warm_s=2.0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_round_measures_every_arm(tmp_path, capsys):
    out = tmp_path / "figures.json"
    code = mg.main(["--scenario", "steady", "--seconds", "4", "--rounds", "1", "--users", "10", "--json", str(out)])
    assert code == 0
    figures = json.loads(out.read_text())
    arms = {r["arm"]: r for r in figures["rows"]}
    assert set(arms) == {"plain", "kit closed steady", "kit open steady"}
    assert all(r["cpu_us_per_grab"] > 0 and r["grabs"] > 0 for r in arms.values())
    assert "late_p99_ms" in arms["kit open steady"] and "late_p99_ms" not in arms["kit closed steady"]
    assert figures["summary"]["plain"]["ratio_to_plain"] == 1.0
    assert "x plain" in capsys.readouterr().out
