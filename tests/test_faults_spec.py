"""Unit tests of the fault pieces that need no process: parsing ``--fault`` and judging a run
against the README's durability promises (loadtests/faults/promises.py)."""

from __future__ import annotations

import itertools

import pytest

from hongbao.loadtests.faults import Fault, parse_fault, promise
from hongbao.loadtests.faults.promises import AOF_POSTPONE_S, broken


@pytest.mark.parametrize(
    "text,target,at_s",
    [
        ("kill-redis@10s", "redis", 10.0),
        ("kill-service@2.5s", "service", 2.5),
        ("kill-redis@800ms", "redis", 0.8),
        (" kill-redis@3 ", "redis", 3.0),
    ],
)
def test_parse_fault(text, target, at_s):
    fault = parse_fault(text)
    assert (fault.target, fault.at_s) == (target, at_s)
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    "text,words",
    [
        ("kill-db@10s", "target"),
        ("kill-redis", "kill-redis@10s"),
        ("kill-redis@-1s", "kill-redis@10s"),
        ("kill-redis@0s", "> 0"),
        ("", "kill-redis@10s"),
        (None, "kill-redis@10s"),
        ("kill-redis@10h", "kill-redis@10s"),
    ],
)
def test_parse_fault_errors_say_what_is_accepted(text, words):
    with pytest.raises(ValueError, match=words):
        parse_fault(text)


def _run(**over) -> dict:
    d = {
        "fault": "kill-redis@1s",
        "store": "redis",
        "fsync": "always",
        "injector_error": None,
        "killed_at_s": 1.0,
        "up_at_s": 1.5,
        "audit_failures": [],
        "unresolved": 0,
        "mismatched_acks": 0,
        "mismatched_examples": [],
        "lost_acks": 0,
        "lost_acks_s_before_kill": [],
        "lost_examples": [],
    }
    d.update(over)
    d["promise"] = promise(d["store"], d["fault"].split("@")[0][5:], d["fsync"])
    return d


def test_a_clean_run_keeps_its_promise():
    assert broken(_run()) == []


@pytest.mark.parametrize(
    "over,why",
    [
        ({"lost_acks": 1, "lost_acks_s_before_kill": [0.01], "lost_examples": ["e1"]}, "missing from the ledger"),
        (
            {
                "fsync": "everysec",
                "lost_acks": 1,
                "lost_acks_s_before_kill": [AOF_POSTPONE_S + 0.5],
                "lost_examples": ["e1"],
            },
            "missing from the ledger",
        ),
        (
            {
                "fault": "kill-service@1s",
                "fsync": "everysec",
                "lost_acks": 1,
                "lost_acks_s_before_kill": [0.1],
                "lost_examples": ["e1"],
            },
            "missing from the ledger",
        ),
        ({"audit_failures": ["conservation: 1 violation(s): envelope 3: lost 5 cent(s)"]}, "conservation"),
        ({"audit_failures": ["no double grab: 1 violation(s)"]}, "double"),
        ({"unresolved": 2}, "no final answer"),
        ({"mismatched_acks": 1, "mismatched_examples": ["x"]}, "recorded differently"),
        ({"killed_at_s": None, "injector_error": None}, "not fired"),
    ],
)
def test_broken_promises_are_reported(over, why):
    reasons = broken(_run(**over))
    assert reasons and any(why in r for r in reasons), reasons


def test_everysec_may_lose_only_the_last_two_seconds():
    assert (
        broken(_run(fsync="everysec", lost_acks=2, lost_acks_s_before_kill=[0.2, 1.9], lost_examples=["a", "b"])) == []
    )


def test_no_promise_without_aof_or_for_memory():
    assert broken(_run(fsync=None, lost_acks=50, lost_acks_s_before_kill=[0.1] * 50)) == []
    assert "starts empty" in promise("memory", "service", None)
    with pytest.raises(ValueError, match="no durability promise"):
        promise("memory", "redis", None)


def test_fault_str_round_trips():
    assert str(Fault("service", 1.5)) == "kill-service@1.5s"


def _cli_args(*argv: str):
    import argparse

    from hongbao.harness.commands import faults

    parser = argparse.ArgumentParser()
    faults.add_arguments(parser)
    return faults, parser.parse_args(list(argv))


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--fault", "kill-db@1s"], "target"),
        (["--fault", "kill-redis@1s", "--store", "memory"], "needs --store redis"),
        (["--fault", "kill-redis@1s", "--users", "0"], "--users must be >= 1"),
        (["--fault", "kill-redis@1s", "--users", "5000"], "<= 20000 grabs"),
    ],
)
def test_faults_command_refuses_bad_arguments(capsys, argv, words):
    """``hongbao faults`` says what is wrong and exits 2 before starting anything."""
    faults, args = _cli_args(*argv)
    assert faults.run(args) == 2
    assert words in capsys.readouterr().err


def test_storm_fault_refuses_a_fault_outside_the_storm(capsys):
    """The hook for ``hongbao storm --fault``: a kill after the storm's end is a usage error."""
    from hongbao.harness.commands.faults import storm_fault

    assert storm_fault("kill-redis@30s", seed=1, duration_s=10) == 2
    assert "not within" in capsys.readouterr().err
    assert storm_fault("kill-db@3s", seed=1, duration_s=10) == 2


@pytest.mark.parametrize(
    "text,kind,at_s,down_s",
    [
        ("pause-service@40s+4s", "pause-service", 40.0, 4.0),
        ("pause-redis@10s", "pause-redis", 10.0, 3.0),
        ("restart-redis@1500ms", "restart-redis", 1.5, 0.5),
    ],
)
def test_parse_soak_faults(text, kind, at_s, down_s):
    from hongbao.loadtests.faults.spec import ACTIONS

    fault = parse_fault(text, actions=ACTIONS)
    assert (fault.kind, fault.at_s, fault.down_s) == (kind, at_s, down_s)
    assert parse_fault(str(fault), actions=ACTIONS) == fault


def test_the_one_fault_runner_takes_kills_only():
    with pytest.raises(ValueError, match="kill-redis@10s"):
        parse_fault("pause-redis@10s")


def test_nemesis_schedules():
    from hongbao.loadtests.faults.spec import DEFAULT_KINDS, default_nemesis, parse_nemesis

    faults = parse_nemesis("pause-service@45s+4s, kill-redis@20s")
    assert [str(f) for f in faults] == ["kill-redis@20s", "pause-service@45s+4s"]
    with pytest.raises(ValueError, match="starts before"):
        parse_nemesis("pause-redis@10s+5s,kill-service@14s")
    with pytest.raises(ValueError, match="at least one"):
        parse_nemesis(" , ")
    plan = default_nemesis(600, seed=3)
    assert [f.kind for f in plan[:5]] == list(DEFAULT_KINDS)
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(plan)]
    assert len(plan) >= 20 and all(19.9 <= g <= 30.1 for g in gaps)
    assert plan[-1].at_s + plan[-1].down_s + 8 <= 600 and default_nemesis(600, seed=3) == plan
