"""Storm shape plans: how many users run at each second of a storm (no Locust import here, so
tests and plots can use them in-process; loadtests/shapes.py plays them as a LoadTestShape).

Each shape is a pure function ``(params, t_s) -> (users, spawn_rate)``. In the open model the
shape runs only the senders: the grabs come from the arrival plan (loadtests/storm/arrivals.py).

Parameters (the ``[shape]`` table of a scenario):
- steady:    users, spawn_rate
- countdown: baseline_users, peak_users, t0_s (midnight), lead_s (peak users are spawned this long
             before T0), hold_s (peak held after T0), decay_s (linear fall), end_users, spawn_rate
- herd:      users, spawn_rate; every user is running before the hot envelope opens at
             envelopes.hot_release_s, then they all grab it at once (the thundering herd)
- ramp:      start_users, step_users, step_s, spawn_rate (saturation search, one step per step_s)
"""

from __future__ import annotations

from hongbao.loadtests.storm.scenario import Scenario


def _num(params: dict, key: str, default: float) -> float:
    value = params.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"shape.{key} must be a number >= 0 (got {value!r})")
    return float(value)


def steady(params: dict, t_s: float) -> tuple[int, float]:
    users = int(_num(params, "users", 10))
    return users, _num(params, "spawn_rate", max(users, 1))


def countdown(params: dict, t_s: float) -> tuple[int, float]:
    base = int(_num(params, "baseline_users", 5))
    peak = int(_num(params, "peak_users", 50))
    end = int(_num(params, "end_users", base))
    t0, lead = _num(params, "t0_s", 10), _num(params, "lead_s", 2)
    hold, decay = _num(params, "hold_s", 3), _num(params, "decay_s", 10)
    rate = _num(params, "spawn_rate", max(peak, 1))
    if t_s < t0 - lead:
        return base, rate
    if t_s < t0 + hold:
        return peak, rate
    if decay > 0 and t_s < t0 + hold + decay:
        frac = (t_s - t0 - hold) / decay
        return int(round(peak + (end - peak) * frac)), rate
    return end, rate


def herd(params: dict, t_s: float) -> tuple[int, float]:
    users = int(_num(params, "users", 100))
    return users, _num(params, "spawn_rate", max(users, 1))


def ramp_step(params: dict, t_s: float) -> int:
    """0-based index of the ramp step running at ``t_s``."""
    return int(t_s // max(_num(params, "step_s", 5), 1e-9))


def ramp(params: dict, t_s: float) -> tuple[int, float]:
    start = int(_num(params, "start_users", 5))
    step_users = int(_num(params, "step_users", 5))
    users = start + step_users * ramp_step(params, t_s)
    return users, _num(params, "spawn_rate", max(start + step_users, 1) * 4)


SHAPE_FUNCTIONS = {"steady": steady, "countdown": countdown, "herd": herd, "ramp": ramp}


def users_at(scenario: Scenario, t_s: float) -> tuple[int, float] | None:
    """(users, spawn rate) at ``t_s`` seconds into the storm, None once the storm is over."""
    if t_s >= scenario.duration_s:
        return None
    if scenario.model == "open":  # the grabbers are the open pool's (loadtests/storm/open_pool.py)
        return scenario.senders, float(max(scenario.senders, 1))
    users, rate = SHAPE_FUNCTIONS[scenario.shape](scenario.shape_params, t_s)
    # sender users are fixed-count and come first: always leave room for at least one grabber
    return max(users, scenario.senders + 1), rate
