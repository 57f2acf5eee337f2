"""Storm building blocks without a storm: histogram, scenarios, shapes, duration parsing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hongbao.harness.commands.storm import duration_s
from hongbao.loadtests.storm import scenario as scen
from hongbao.loadtests.storm import shape_plan as shapes
from hongbao.loadtests.storm.histogram import Histogram, bucket_us

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "storms"


def test_buckets_keep_three_significant_digits():
    assert [bucket_us(v) for v in (0.4, 7, 999, 1234, 98_765, 1_234_567)] == [0, 7, 999, 1230, 98_700, 1_230_000]


def test_histogram_percentiles_and_merge():
    a, b = Histogram(), Histogram()
    for ms in (0.101, 0.102, 0.103, 0.104):
        a.record(ms)
    b.record(5.5)
    a.merge(Histogram.from_json(b.to_json()))
    assert a.total == 5
    assert a.percentile_us(50) == 103
    assert a.percentile_us(80) == 104
    assert a.percentile_us(100) == 5500
    s = a.summary_ms(percentiles=(50,))
    assert s["p50_ms"] == 0.103 and s["max_ms"] == 5.5
    with pytest.raises(ValueError, match="within 0..100"):
        a.percentile_us(101)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_plays(path):
    sc = scen.load(path)
    assert sc.name == path.stem
    ticks = [shapes.users_at(sc, t) for t in range(int(sc.duration_s))]
    if sc.model == "open":  # the senders run as users; the grabs come from the arrival plan
        assert all(t == (sc.senders, float(max(sc.senders, 1))) for t in ticks)
        assert scen.arrival_plan(sc).total > sc.duration_s
    else:
        assert all(t is not None and t[0] > sc.senders for t in ticks)
    assert shapes.users_at(sc, sc.duration_s) is None
    clients = (sc.double_tap_share, sc.retry_share, sc.re_tap_share)
    assert all(c > 0 for c in clients) is (sc.name != "smoke")  # clients as they are, but in smoke


def test_countdown_spikes_at_t0_and_decays():
    sc = scen.load(SEEDS / "countdown.toml")
    p, plan = sc.shape_params, scen.arrival_plan(sc)
    per_s = [plan.count_between(t, t + 1) for t in range(int(sc.duration_s))]
    assert per_s[0] == pytest.approx(p["baseline_rate"])
    assert per_s[int(p["t0_s"])] == pytest.approx(p["peak_rate"]) == pytest.approx(max(per_s))
    assert per_s[int(p["t0_s"]) - 1] < p["peak_rate"]  # climbing over the lead
    assert per_s[-1] == pytest.approx(p["end_rate"])
    assert plan.total == int(sum(per_s) + 1e-6)


def test_closed_countdown_and_ramp_play_user_counts():
    sc = scen.parse(
        {
            "name": "c",
            "seed": 1,
            "duration_s": 30,
            "shape": {"kind": "countdown", "baseline_users": 20, "peak_users": 150, "t0_s": 10, "end_users": 30},
        }
    )
    users = [shapes.users_at(sc, t)[0] for t in range(int(sc.duration_s))]
    assert users[0] == 20 and users[10] == 150 == max(users) and users[-1] == 30
    sc = scen.parse(
        {
            "name": "r",
            "seed": 1,
            "duration_s": 30,
            "shape": {"kind": "ramp", "start_users": 10, "step_users": 20, "step_s": 5},
        }
    )
    assert shapes.users_at(sc, 0)[0] == 10 and shapes.users_at(sc, 10.1)[0] == 50


def test_arrival_plans_space_arrivals_and_split_over_processes():
    from hongbao.loadtests.storm.arrivals import plan_for, ramp_step_rate

    steady = plan_for("constant", {"rate": 100}, duration_s=2)
    assert steady.total == 200 and steady.time_of(1) == pytest.approx(0.01) and steady.time_of(200) is None
    per_minute = plan_for("steady", {"rate": 600}, duration_s=2, time_unit_s=60)
    assert per_minute.total == 20
    ramp = plan_for("ramp", {"start_rate": 10, "step_rate": 10, "step_s": 1}, duration_s=3)
    assert ramp.total == 60 and ramp.time_of(10) == pytest.approx(1.0)
    assert ramp_step_rate({"start_rate": 10, "step_rate": 10}, 2) == 30
    stages = plan_for("ramping", {"start_rate": 0, "stages": [{"target": 100, "duration_s": 2}]}, duration_s=3)
    assert stages.total == 200 and stages.rate_at(1.0) == pytest.approx(50)
    herd = plan_for("herd", {"burst": 50, "rate": 10}, duration_s=6, hot_release_s=3)
    assert [herd.time_of(k) for k in (30, 79)] == [3.0, 3.0] and herd.total == 110
    # arrival k goes to process k % n: the shares add up to the plan, none twice
    times = sorted(steady.time_of(k) for i in range(3) for k in range(i, steady.total, 3))
    assert times == [steady.time_of(k) for k in range(steady.total)]


def test_ramp_steps():
    sc = scen.load(SEEDS / "ramp.toml")
    p, plan = sc.shape_params, scen.arrival_plan(sc)
    step = p["step_s"]
    assert plan.count_between(0, step) == pytest.approx(p["start_rate"] * step)
    assert plan.rate_at(step * 2 + 0.1) == pytest.approx(p["start_rate"] + 2 * p["step_rate"])


@pytest.mark.parametrize(
    "patch,needle",
    [
        ({"shape": {"kind": "tsunami"}}, "shape.kind must be one of"),
        ({"load": {"model": "half-open"}}, "load.model must be one of"),
        ({"envelopes": {"hot_count": 0}}, "envelopes.hot_count must be >= 1"),
        ({"envelopes": {"cold_count": [5, 2]}}, "envelopes.cold_count must satisfy"),
        ({"users": {"hot_share": 1.5}}, "users.hot_share must be within 0..1"),
        ({"users": {"senders": "two"}}, "users.senders must be int"),
        ({"duration_s": -1}, "duration_s must be > 0"),
        ({"load": {"model": "open"}, "shape": {"kind": "steady"}}, "shape.rate is required"),
        ({"load": {"model": "open"}, "shape": {"kind": "steady", "rate": -1}}, "shape.rate must be a number >= 0"),
        (
            {"load": {"model": "open", "max_users": 5, "pre_allocated_users": 10}, "shape": {"rate": 1}},
            "load.max_users must be >= pre_allocated_users",
        ),
        ({"load": {"model": "open", "grabs_per_user_per_s": 5}}, "load.grabs_per_user_per_s is not a field"),
        ({"shape": {"kind": "constant", "rate": 5}}, "is an arrival-rate shape"),
        ({"users": {"double_tap_share": 0.6, "re_tap_share": 0.6}}, "must be <= 1"),
        ({"load": {"model": "open", "tick_ms": 60}, "shape": {"rate": 1}}, "load.tick_ms must be >= 0 and below"),
        ({"load": {"model": "open", "tick_ms": -1}, "shape": {"rate": 1}}, "load.tick_ms must be >= 0"),
    ],
)
def test_bad_scenarios_name_the_field(patch, needle):
    data = {"name": "x", "seed": 1, "duration_s": 5}
    data.update(patch)
    with pytest.raises(scen.ScenarioError, match=needle):
        scen.parse(data, "x.toml")


def test_missing_seed_and_file():
    with pytest.raises(scen.ScenarioError, match="seed is required"):
        scen.parse({"duration_s": 5}, "x.toml")
    with pytest.raises(scen.ScenarioError, match="--scenario: file not found"):
        scen.load("nope/missing.toml")


def test_shipped_scenarios_are_found_by_name_and_own_files_by_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: names resolve to the package data
    assert scen.load("smoke").name == "smoke" and scen.load("countdown").name == "countdown"
    own = tmp_path / "smoke"  # a file of one's own wins over a shipped name
    own.write_text((SEEDS / "smoke.toml").read_text().replace('name = "smoke"', 'name = "mine"'))
    assert scen.load("smoke").name == "mine" and scen.load(own).name == "mine"
    with pytest.raises(scen.ScenarioError, match="shipped: countdown, herd, ramp, smoke, steady"):
        scen.load("blizzard")


def test_duration_parsing():
    assert duration_s("30s") == 30 and duration_s("2m") == 120 and duration_s("1m30s") == 90
    assert duration_s("45") == 45
    with pytest.raises(argparse.ArgumentTypeError, match="--duration"):
        duration_s("soon")


def test_report_section_of_an_unusable_storm_says_why(tmp_path):
    import json

    from hongbao.harness.report.sections.storm import render

    assert render(tmp_path) is None
    (tmp_path / "storm.json").write_text(
        json.dumps({"exit": {"code": 2, "name": "UNUSABLE", "reasons": ["service exited with code 1"]}})
    )
    assert "service exited with code 1" in render(tmp_path).markdown


def test_storm_command_refuses_bad_setups_with_exit_2(tmp_path, capsys):
    from hongbao.harness.cli import main

    assert main(["storm", "--scenario", str(tmp_path / "nope.toml"), "--out", str(tmp_path)]) == 2
    assert "--scenario: file not found" in capsys.readouterr().err
    smoke = str(SEEDS / "smoke.toml")
    assert main(["storm", "--scenario", smoke, "--slo", "p99<50", "--out", str(tmp_path)]) == 2
    assert "needs a unit" in capsys.readouterr().err
    assert main(["storm", "--scenario", smoke, "--host", "http://example.com", "--out", str(tmp_path)]) == 2
    assert "--allow-remote-target" in capsys.readouterr().err
    assert main(["storm", "--scenario", smoke, "--processes", "2", "--workers", "2", "--out", str(tmp_path)]) == 2
    assert main(["storm", "--scenario", smoke, "--redis-direct", "--out", str(tmp_path)]) == 2
    assert "--redis-direct needs --store redis://" in capsys.readouterr().err


def test_storm_against_a_dead_host_is_unusable(tmp_path):
    import json

    from hongbao.harness.cli import main
    from hongbao.loadtests.storm.procs import free_port

    code = main(
        [
            "storm",
            "--scenario",
            str(SEEDS / "smoke.toml"),
            "--host",
            f"http://127.0.0.1:{free_port()}",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 2
    reasons = json.loads((tmp_path / "storm.json").read_text())["exit"]["reasons"]
    assert "not ready after" in reasons[0]


def test_pool_picks_untried_open_envelopes_and_holds_a_herd_until_t0():
    import random

    from hongbao.loadtests.storm.pool import EnvelopePool

    pool, rng = EnvelopePool(pool_size=3), random.Random(1)
    pool.set_hot([100], release_at=50.0)
    assert pool.pick(rng, set(), hot_share=1.0, now=10.0) is None  # herd: wait for T0
    assert pool.idle_s(10.0) == 0.05 and pool.idle_s(49.99) == pytest.approx(0.01)
    for i in (1, 2, 3, 4):
        pool.add_cold(i)  # 1 falls out (pool_size 3)
    assert pool.pick(rng, set(), hot_share=0.5, now=10.0) in {2, 3, 4}  # hot not open: cold only
    assert pool.pick(rng, set(), hot_share=1.0, now=50.0) == 100
    pool.close(100)
    pool.close(3)
    assert pool.pick(rng, {2}, hot_share=1.0, now=60.0) == 4  # untried, not closed
    assert pool.pick(rng, {2, 4}, hot_share=1.0, now=60.0) is None


@pytest.mark.parametrize(
    "warning,mean,procs,busiest,expected",
    [
        (True, 10.0, 1, 10.0, True),  # Locust's own cpu_warning
        (False, 95.0, 1, 95.0, True),  # the one process is pegged
        (False, 120.0, 3, 92.0, True),  # master idle, one worker pegged
        (False, 150.0, 3, 75.0, False),  # two workers at 75% on 2 cores: headroom left
        (False, 40.0, 1, 40.0, False),
    ],
)
def test_load_generator_saturation(warning, mean, procs, busiest, expected):
    from hongbao.loadtests.monitor import load_generator_saturated

    cpu = {
        "cores": 2,
        "roles": {
            "load_generator": {"mean_percent": mean, "processes": procs, "busiest_process_mean_percent": busiest}
        },
    }
    saturated, why = load_generator_saturated(cpu, warning)
    assert saturated is expected and why


def test_machine_busy_flags_competing_work():
    from hongbao.loadtests.monitor import machine_busy

    cpu = {
        "cores": 2,
        "machine_mean_percent": 195.0,
        "roles": {"load_generator": {"mean_percent": 40.0}, "service": {"mean_percent": 15.0}},
    }
    busy, note = machine_busy(cpu)
    assert busy and "own processes 55%" in note
    assert machine_busy({**cpu, "machine_mean_percent": 60.0})[0] is False


def test_open_model_records_offered_dropped_and_achieved_rates():
    from hongbao.loadtests.storm.run import _load_model

    sc = scen.load(SEEDS / "steady.toml")
    extra = {"started_at": 1000.2, "dropped": {"1003": 7, "1004": 2}, "pool_peak": {"1": 30, "2": 25}}
    lm = _load_model(sc, {"rate": 500}, {"requests_per_s": 1234.5}, extra)
    assert lm["open"] and lm["offered_grabs_per_s_at_peak"] == 500 and lm["offered_grabs"] == 500 * sc.duration_s
    assert lm["dropped_grabs"] == 9 and lm["dropped_by_second"] == {"3": 7, "4": 2} and lm["grabbers_peak"] == 55
    assert lm["achieved_requests_per_s"] == 1234.5 and lm["tolerance_ms"] == sc.tolerance_ms
    closed = _load_model(scen.load(SEEDS / "smoke.toml"), {}, {"requests_per_s": 1.0})
    assert closed["model"] == "closed" and closed["think_time_s"] == [0.0, 0.005]
