"""Storm scenarios: TOML files in seeds/storms/ naming the seed, envelopes, users, load model and
shape. Every random choice of a storm flows from ``seed``. Bad files fail with the field named.

Load models (``[load] model``): ``closed`` (Locust users grab in a loop, ``think_time_s`` apart; the
``[shape]`` gives user counts, loadtests/storm/shape_plan.py) and ``open`` (grabs arrive at a rate
whatever the answers; the ``[shape]`` gives rates per ``time_unit_s``, loadtests/storm/arrivals.py,
taken by a pool of ``pre_allocated_users`` that grows to ``max_users``; a grab not started within
``tolerance_ms`` of its intended time is dropped and counted; the grabs due within one ``tick_ms``
go out together). Docs: docs/open-model.md.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from hongbao.loadtests.storm.arrivals import ArrivalPlan, plan_for
from hongbao.seeds import find_toml, seed_file

SHAPES = ("countdown", "herd", "ramp", "steady", "constant", "ramping")  # the last two: open-model aliases
MODELS = ("closed", "open")
#: environment variable the locustfile reads to find its scenario (works under `locust -f` too)
SCENARIO_ENV = "HONGBAO_SCENARIO"
#: JSON object merged into the scenario's [shape] table (the step-ramp search sets its steps here)
SHAPE_ENV = "HONGBAO_SHAPE"
DEFAULT_SCENARIO = seed_file("storms", "smoke.toml")


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and field."""


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    duration_s: float
    description: str = ""
    # envelopes
    algorithm: str = "double_mean"
    mode: str = "on_grab"
    hot_envelopes: int = 1  # created once at test start, shared by every worker
    hot_total_cents: int = 100_000
    hot_count: int = 100
    hot_release_s: float = 0.0  # grabbers hold off hot envelopes until this second (T0)
    cold_total_cents: tuple[int, int] = (500, 5_000)
    cold_count: tuple[int, int] = (5, 20)
    cold_menu: tuple[tuple[int, int], ...] = ()  # [total_cents, count] choices; overrides ranges
    expires_in_s: int = 3600
    # users
    senders: int = 1  # fixed number of sender users (they create cold envelopes)
    sender_interval_s: float = 0.05  # each sender creates one envelope per interval
    hot_share: float = 0.8  # share of grabs aimed at a hot envelope once released
    pool_size: int = 200  # recent cold envelopes a worker keeps to grab from
    # clients as they are: shares of grabs that come with each behaviour (loadtests/storm/grabber.py)
    double_tap_share: float = 0.0  # two grabs at once, same request id
    retry_share: float = 0.0  # answer lost: resent after retry_after_ms, same request id
    retry_after_ms: float = 100.0  # the client's timeout before it resends
    re_tap_share: float = 0.0  # the same user taps again with a new request id
    # load model
    model: str = "closed"
    think_time_s: tuple[float, float] = (0.0, 0.0)  # closed model: wait between grabs
    time_unit_s: float = 1.0  # open model: [shape] rates are grabs per this many seconds
    pre_allocated_users: int = 20  # open model: grabbers started at once (split over processes)
    max_users: int = 1000  # open model: the pool grows to this when no grabber is free
    tolerance_ms: float = 50.0  # open model: a grab not started this late is dropped
    tick_ms: float = 1.0  # open model: the dispatcher wakes at most once per tick (0: at every arrival)
    # shape
    shape: str = "steady"
    shape_params: dict = field(default_factory=dict)
    path: str = ""

    def with_overrides(self, *, duration_s: float | None = None, seed: int | None = None) -> Scenario:
        changes: dict = {}
        if duration_s is not None:
            changes["duration_s"] = float(duration_s)
        if seed is not None:
            changes["seed"] = int(seed)
        return replace(self, **changes)


def _get(table: dict, key: str, kind, default, where: str):
    if key not in table:
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ScenarioError(f"{where}.{key} must be {kind.__name__} (got {value!r})")
    return value


def _pair(table: dict, key: str, kind, default, where: str) -> tuple:
    if key not in table:
        return default
    v = table[key]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v, v]
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)):
        raise ScenarioError(f"{where}.{key} must be a number or [low, high] (got {v!r})")
    lo, hi = kind(v[0]), kind(v[1])
    if lo > hi or lo < 0:
        raise ScenarioError(f"{where}.{key} must satisfy 0 <= low <= high (got {v!r})")
    return (lo, hi)


def parse(data: dict, path: str = "<scenario>") -> Scenario:
    """Build a Scenario from a parsed TOML table, checking every field."""
    env = data.get("envelopes", {})
    users = data.get("users", {})
    load = data.get("load", {})
    shape = dict(data.get("shape", {}))
    w = path
    kind = shape.pop("kind", "steady")
    if kind not in SHAPES:
        raise ScenarioError(f"{w}: shape.kind must be one of {', '.join(SHAPES)} (got {kind!r})")
    model = _get(load, "model", str, "closed", f"{w}: load")
    if "grabs_per_user_per_s" in load:
        raise ScenarioError(
            f"{w}: load.grabs_per_user_per_s is not a field: the open model takes arrival rates in "
            "[shape] (rate, start_rate, peak_rate...; see docs/open-model.md)"
        )
    if model not in MODELS:
        raise ScenarioError(f"{w}: load.model must be one of {', '.join(MODELS)} (got {model!r})")
    sc = Scenario(
        name=_get(data, "name", str, Path(path).stem, w),
        description=_get(data, "description", str, "", w),
        seed=_get(data, "seed", int, None, w) if "seed" in data else _missing(w, "seed"),
        duration_s=_get(data, "duration_s", float, None, w) if "duration_s" in data else _missing(w, "duration_s"),
        algorithm=_get(env, "algorithm", str, "double_mean", f"{w}: envelopes"),
        mode=_get(env, "mode", str, "on_grab", f"{w}: envelopes"),
        hot_envelopes=_get(env, "hot_envelopes", int, 1, f"{w}: envelopes"),
        hot_total_cents=_get(env, "hot_total_cents", int, 100_000, f"{w}: envelopes"),
        hot_count=_get(env, "hot_count", int, 100, f"{w}: envelopes"),
        hot_release_s=_get(env, "hot_release_s", float, 0.0, f"{w}: envelopes"),
        cold_total_cents=_pair(env, "cold_total_cents", int, (500, 5_000), f"{w}: envelopes"),
        cold_count=_pair(env, "cold_count", int, (5, 20), f"{w}: envelopes"),
        cold_menu=_menu(env, f"{w}: envelopes"),
        expires_in_s=_get(env, "expires_in_s", int, 3600, f"{w}: envelopes"),
        senders=_get(users, "senders", int, 1, f"{w}: users"),
        sender_interval_s=_get(users, "sender_interval_s", float, 0.05, f"{w}: users"),
        hot_share=_get(users, "hot_share", float, 0.8, f"{w}: users"),
        pool_size=_get(users, "pool_size", int, 200, f"{w}: users"),
        double_tap_share=_get(users, "double_tap_share", float, 0.0, f"{w}: users"),
        retry_share=_get(users, "retry_share", float, 0.0, f"{w}: users"),
        retry_after_ms=_get(users, "retry_after_ms", float, 100.0, f"{w}: users"),
        re_tap_share=_get(users, "re_tap_share", float, 0.0, f"{w}: users"),
        model=model,
        think_time_s=_pair(load, "think_time_s", float, (0.0, 0.0), f"{w}: load"),
        time_unit_s=_get(load, "time_unit_s", float, 1.0, f"{w}: load"),
        pre_allocated_users=_get(load, "pre_allocated_users", int, 20, f"{w}: load"),
        max_users=_get(load, "max_users", int, 1000, f"{w}: load"),
        tolerance_ms=_get(load, "tolerance_ms", float, 50.0, f"{w}: load"),
        tick_ms=_get(load, "tick_ms", float, 1.0, f"{w}: load"),
        shape=kind,
        shape_params=shape,
        path=str(path),
    )
    _check(sc)
    return sc


def _menu(table: dict, where: str) -> tuple[tuple[int, int], ...]:
    """envelopes.cold_menu = [[888, 8], [6666, 6], ...]: what senders choose from (like the amounts
    people really send); envelopes of one size let the fairness scorecard test grab positions."""
    menu = table.get("cold_menu", [])
    ok = isinstance(menu, list) and all(
        isinstance(m, list)
        and len(m) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in m)
        and m[1] >= 1
        and m[0] >= m[1]
        for m in menu
    )
    if not ok:
        raise ScenarioError(
            f"{where}.cold_menu must be a list of [total_cents, count] with total_cents >= count >= 1 (got {menu!r})"
        )
    return tuple((int(t), int(c)) for t, c in menu)


def _missing(where: str, key: str):
    raise ScenarioError(f"{where}: {key} is required")


def _check(sc: Scenario) -> None:
    w = sc.path
    rules = [
        (sc.duration_s > 0, f"duration_s must be > 0 (got {sc.duration_s})"),
        (sc.mode in ("pre_split", "on_grab"), f"envelopes.mode must be pre_split or on_grab (got {sc.mode!r})"),
        (sc.hot_envelopes >= 0, f"envelopes.hot_envelopes must be >= 0 (got {sc.hot_envelopes})"),
        (sc.hot_count >= 1, f"envelopes.hot_count must be >= 1 (got {sc.hot_count})"),
        (
            sc.hot_total_cents >= sc.hot_count,
            f"envelopes.hot_total_cents must be >= hot_count (one cent each; got {sc.hot_total_cents})",
        ),
        (sc.cold_count[0] >= 1, f"envelopes.cold_count must be >= 1 (got {sc.cold_count})"),
        (
            sc.cold_total_cents[0] >= sc.cold_count[1],
            f"envelopes.cold_total_cents low must be >= cold_count high (got {sc.cold_total_cents})",
        ),
        (sc.senders >= 0, f"users.senders must be >= 0 (got {sc.senders})"),
        (sc.sender_interval_s > 0, f"users.sender_interval_s must be > 0 (got {sc.sender_interval_s})"),
        (0.0 <= sc.hot_share <= 1.0, f"users.hot_share must be within 0..1 (got {sc.hot_share})"),
        (0.0 <= sc.retry_share <= 1.0, f"users.retry_share must be within 0..1 (got {sc.retry_share})"),
        (0.0 <= sc.double_tap_share <= 1.0, f"users.double_tap_share must be within 0..1 (got {sc.double_tap_share})"),
        (0.0 <= sc.re_tap_share <= 1.0, f"users.re_tap_share must be within 0..1 (got {sc.re_tap_share})"),
        (
            sc.double_tap_share + sc.retry_share + sc.re_tap_share <= 1.0,
            "users.double_tap_share + retry_share + re_tap_share must be <= 1",
        ),
        (sc.retry_after_ms >= 0, f"users.retry_after_ms must be >= 0 (got {sc.retry_after_ms})"),
        (sc.pool_size >= 1, f"users.pool_size must be >= 1 (got {sc.pool_size})"),
        (sc.time_unit_s > 0, f"load.time_unit_s must be > 0 (got {sc.time_unit_s})"),
        (sc.pre_allocated_users >= 1, f"load.pre_allocated_users must be >= 1 (got {sc.pre_allocated_users})"),
        (
            sc.max_users >= sc.pre_allocated_users,
            f"load.max_users must be >= pre_allocated_users (got {sc.max_users} < {sc.pre_allocated_users})",
        ),
        (sc.tolerance_ms > 0, f"load.tolerance_ms must be > 0 (got {sc.tolerance_ms})"),
        (
            0 <= sc.tick_ms < sc.tolerance_ms,
            f"load.tick_ms must be >= 0 and below tolerance_ms (got {sc.tick_ms} with tolerance_ms {sc.tolerance_ms})",
        ),
        (
            sc.hot_envelopes > 0 or sc.senders > 0,
            "nothing to grab: set envelopes.hot_envelopes or users.senders above 0",
        ),
    ]
    for ok, msg in rules:
        if not ok:
            raise ScenarioError(f"{w}: {msg}")
    if sc.model == "open":
        try:
            arrival_plan(sc)
        except ValueError as e:
            raise ScenarioError(f"{w}: {e}") from None
    elif sc.shape in ("constant", "ramping"):
        raise ScenarioError(f'{w}: shape.kind {sc.shape!r} is an arrival-rate shape: set load.model = "open"')


def arrival_plan(sc: Scenario, shape_overrides: dict | None = None) -> ArrivalPlan:
    """The open model's intended start times of ``sc`` (with the [shape] overrides a ramp sets)."""
    return plan_for(
        sc.shape,
        {**sc.shape_params, **(shape_overrides or {})},
        duration_s=sc.duration_s,
        time_unit_s=sc.time_unit_s,
        hot_release_s=sc.hot_release_s,
    )


def to_toml(data: dict) -> str:
    """A scenario table as TOML (the value kinds scenarios use: str, numbers, bools, lists, tables)."""

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        return repr(v)

    top = [f"{k} = {val(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"\n[{k}]\n" + "\n".join(f"{kk} = {val(vv)}" for kk, vv in v.items())
        for k, v in data.items()
        if isinstance(v, dict)
    ]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def load(path: str | os.PathLike) -> Scenario:
    """Read and check a scenario: a TOML file, or the name of a shipped one (``countdown``)."""
    try:
        p = find_toml(path, "storms", "--scenario").resolve()
    except FileNotFoundError as e:
        raise ScenarioError(str(e)) from None
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: not valid TOML: {e}") from None
    return parse(data, str(p))


def from_env() -> Scenario:
    """The scenario named by $HONGBAO_SCENARIO (default seeds/storms/smoke.toml), with the
    duration and seed overrides ``hongbao storm`` passes through the environment."""
    sc = load(os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO)
    dur = os.environ.get("HONGBAO_DURATION_S")
    seed = os.environ.get("HONGBAO_SEED")
    shape = os.environ.get(SHAPE_ENV)
    if shape:
        sc = replace(sc, shape_params={**sc.shape_params, **json.loads(shape)})
    return sc.with_overrides(duration_s=float(dur) if dur else None, seed=int(seed) if seed else None)
