"""Storm building blocks without a storm: histogram, scenarios, shapes, duration parsing."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hongbao.harness.commands.storm import duration_s
from hongbao.loadtests.storm import shape_plan as shapes
from hongbao.loadtests.storm import scenario as scen
from hongbao.loadtests.storm.histogram import Histogram, bucket_us

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "storms"


def test_buckets_keep_three_significant_digits():
    assert [bucket_us(v) for v in (0.4, 7, 999, 1234, 98_765, 1_234_567)] == \
        [0, 7, 999, 1230, 98_700, 1_230_000]


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
    assert all(t is not None and t[0] > sc.senders for t in ticks)
    assert shapes.users_at(sc, sc.duration_s) is None


def test_countdown_spikes_at_t0_and_decays():
    sc = scen.load(SEEDS / "countdown.toml")
    p = sc.shape_params
    users = [shapes.users_at(sc, t)[0] for t in range(int(sc.duration_s))]
    assert users[0] == p["baseline_users"]
    assert users[int(p["t0_s"])] == p["peak_users"] == max(users)
    assert users[-1] == p["end_users"]


def test_ramp_steps():
    sc = scen.load(SEEDS / "ramp.toml")
    p = sc.shape_params
    assert shapes.users_at(sc, 0)[0] == p["start_users"]
    assert shapes.users_at(sc, p["step_s"] * 2 + 0.1)[0] == p["start_users"] + 2 * p["step_users"]


@pytest.mark.parametrize("patch,needle", [
    ({"shape": {"kind": "tsunami"}}, "shape.kind must be one of"),
    ({"load": {"model": "half-open"}}, "load.model must be one of"),
    ({"envelopes": {"hot_count": 0}}, "envelopes.hot_count must be >= 1"),
    ({"envelopes": {"cold_count": [5, 2]}}, "envelopes.cold_count must satisfy"),
    ({"users": {"hot_share": 1.5}}, "users.hot_share must be within 0..1"),
    ({"users": {"senders": "two"}}, "users.senders must be int"),
    ({"duration_s": -1}, "duration_s must be > 0"),
])
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
    monkeypatch.chdir(tmp_path)   # not the checkout: names resolve to the package data
    assert scen.load("smoke").name == "smoke" and scen.load("countdown").name == "countdown"
    own = tmp_path / "smoke"      # a file of one's own wins over a shipped name
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
    (tmp_path / "storm.json").write_text(json.dumps(
        {"exit": {"code": 2, "name": "UNUSABLE", "reasons": ["service exited with code 1"]}}))
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
    code = main(["storm", "--scenario", str(SEEDS / "smoke.toml"), "--host",
                 f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    reasons = json.loads((tmp_path / "storm.json").read_text())["exit"]["reasons"]
    assert "not ready after" in reasons[0]


def test_pool_picks_untried_open_envelopes_and_holds_a_herd_until_t0():
    import random

    from hongbao.loadtests.storm.pool import EnvelopePool
    pool, rng = EnvelopePool(pool_size=3), random.Random(1)
    pool.set_hot([100], release_at=50.0)
    assert pool.pick(rng, set(), hot_share=1.0, now=10.0) is None      # herd: wait for T0
    assert pool.idle_s(10.0) == 0.05 and pool.idle_s(49.99) == pytest.approx(0.01)
    for i in (1, 2, 3, 4):
        pool.add_cold(i)                                                 # 1 falls out (pool_size 3)
    assert pool.pick(rng, set(), hot_share=0.5, now=10.0) in {2, 3, 4}   # hot not open: cold only
    assert pool.pick(rng, set(), hot_share=1.0, now=50.0) == 100
    pool.close(100)
    pool.close(3)
    assert pool.pick(rng, {2}, hot_share=1.0, now=60.0) == 4            # untried, not closed
    assert pool.pick(rng, {2, 4}, hot_share=1.0, now=60.0) is None


@pytest.mark.parametrize("warning,mean,procs,busiest,expected", [
    (True, 10.0, 1, 10.0, True),       # Locust's own cpu_warning
    (False, 95.0, 1, 95.0, True),      # the one process is pegged
    (False, 120.0, 3, 92.0, True),     # master idle, one worker pegged
    (False, 150.0, 3, 75.0, False),    # two workers at 75% on 2 cores: headroom left
    (False, 40.0, 1, 40.0, False),
])
def test_load_generator_saturation(warning, mean, procs, busiest, expected):
    from hongbao.loadtests.monitor import load_generator_saturated
    cpu = {"cores": 2, "roles": {"load_generator": {"mean_percent": mean, "processes": procs,
                                                    "busiest_process_mean_percent": busiest}}}
    saturated, why = load_generator_saturated(cpu, warning)
    assert saturated is expected and why


def test_machine_busy_flags_competing_work():
    from hongbao.loadtests.monitor import machine_busy
    cpu = {"cores": 2, "machine_mean_percent": 195.0,
           "roles": {"load_generator": {"mean_percent": 40.0}, "service": {"mean_percent": 15.0}}}
    busy, note = machine_busy(cpu)
    assert busy and "own processes 55%" in note
    assert machine_busy({**cpu, "machine_mean_percent": 60.0})[0] is False


def test_open_model_records_offered_and_achieved_rates():
    from hongbao.loadtests.storm.run import _load_model
    sc = scen.load(SEEDS / "steady.toml")
    lm = _load_model(sc, {}, {"requests_per_s": 1234.5})
    grabbers = sc.shape_params["users"] - sc.senders
    assert lm["open"] and lm["offered_grab_requests_per_s_at_peak"] == grabbers * sc.grabs_per_user_per_s
    assert lm["achieved_requests_per_s"] == 1234.5
    closed = _load_model(scen.load(SEEDS / "countdown.toml"), {}, {"requests_per_s": 1.0})
    assert closed == {"model": "closed", "open": False, "think_time_s": [0.0, 0.002]}
