"""Knee finding: from the steps of one step ramp to the highest sustainable grabs/s.

A step is sustainable when its p99 is within the SLO and its error ratio within the budget. The
ramp stops at the first step that is not; the knee is the best sustainable step before it. The
component that limited the knee is the one whose CPU was closest to its cores (load generator,
service or store). A knee set by a saturated load generator -- or by nothing at all, when the ramp
ended before anything saturated -- is only a lower bound on what the service can take.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

COMPONENTS = ("load_generator", "service", "store")
SATURATED = 0.85           # a component busy on >= 85% of its cores is called saturated
PLATEAU_GAIN = 1.05        # more users but < 5% more grabs/s: throughput has plateaued


@dataclass
class RampStep:
    """One step of a ramp: the offered load and what was measured while it held."""

    users: int
    duration_s: float
    requests: int
    failures: int
    grabs_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_cores: dict[str, float] = field(default_factory=dict)    # component -> cores busy (1.0 = one core)
    cores: dict[str, float] = field(default_factory=dict)        # component -> cores it may use
    loadgen_saturated: bool = False     # the storm kit flagged Locust as out of CPU in this step

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def utilisation(self, component: str) -> float | None:
        busy, have = self.cpu_cores.get(component), self.cores.get(component)
        if busy is None or not have:
            return None
        return busy / have

    def to_json(self) -> dict:
        data = asdict(self)
        data["error_ratio"] = self.error_ratio
        data["utilisation"] = {c: self.utilisation(c) for c in (*COMPONENTS, "machine")}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "RampStep":
        names = ("users", "duration_s", "requests", "failures", "grabs_per_second", "p50_ms", "p99_ms",
                 "cpu_cores", "cores", "loadgen_saturated")
        return cls(**{k: data[k] for k in names if k in data})


@dataclass
class Knee:
    """The result of one ramp's saturation search."""

    grabs_per_second: float | None      # None: not even the first step was sustainable
    step_index: int | None
    p99_ms: float | None
    stop_reason: str
    limiting: str                       # a COMPONENTS name, "machine" (all cores busy), or "none"
    lower_bound: bool
    advice: str
    utilisation: dict[str, float | None] = field(default_factory=dict)
    plateaued: bool = False
    breach_index: int | None = None     # the step that stopped the search (later steps are not used)

    def to_json(self) -> dict:
        return asdict(self)


def breach(step: RampStep, p99_slo_ms: float, error_budget: float) -> str | None:
    """Why ``step`` is not sustainable, or None when it is."""
    if step.duration_s == 0:
        return f"the step at {step.users} users had no whole second to measure: use longer steps"
    if step.requests == 0:
        return f"no grab was answered at {step.users} users"
    if step.error_ratio > error_budget:
        return f"errors {step.error_ratio:.2%} > budget {error_budget:.2%} at {step.users} users"
    if step.p99_ms > p99_slo_ms:
        return f"p99 {step.p99_ms:.1f} ms > SLO {p99_slo_ms:g} ms at {step.users} users"
    return None


def _limiting(steps: list[RampStep]) -> tuple[str, dict[str, float | None]]:
    """The most utilised component over ``steps`` (the knee and the step that broke it)."""
    worst: dict[str, float | None] = {}
    for c in COMPONENTS:
        values = [u for s in steps if (u := s.utilisation(c)) is not None]
        worst[c] = max(values) if values else None
    if any(s.loadgen_saturated for s in steps):
        worst["load_generator"] = max(worst["load_generator"] or 0.0, 1.0)   # Locust said so itself
    machine = [u for s in steps if (u := s.utilisation("machine")) is not None]
    worst["machine"] = max(machine) if machine else None
    known = {c: worst[c] for c in COMPONENTS if worst[c] is not None}
    name = max(known, key=known.get) if known else "none"
    if name != "none" and known[name] >= SATURATED:
        return name, worst
    if machine and max(machine) >= SATURATED:
        return "machine", worst       # every core busy, but no one component owned them
    return "none", worst


def find_knee(steps: list[RampStep], p99_slo_ms: float, error_budget: float) -> Knee:
    """Walk the ramp until the first unsustainable step; the knee is the best step before it."""
    if not steps:
        raise ValueError("steps: a ramp needs at least one step")
    stop_reason, sustainable = "ramp ended within the SLO", []
    broken: RampStep | None = None
    for step in steps:
        why = breach(step, p99_slo_ms, error_budget)
        if why:
            stop_reason, broken = why, step
            break
        sustainable.append(step)
    breach_index = steps.index(broken) if broken is not None else None
    if not sustainable:
        return Knee(None, None, None, stop_reason, "none", True,
                    "The first step already broke the SLO: start the ramp lower or relax --p99.",
                    breach_index=breach_index)
    best = max(range(len(sustainable)), key=lambda i: sustainable[i].grabs_per_second)
    knee = sustainable[best]
    later = sustainable[best + 1:]
    last_two = sustainable[-2:]
    plateaued = len(last_two) == 2 and last_two[1].users > last_two[0].users \
        and last_two[1].grabs_per_second < last_two[0].grabs_per_second * PLATEAU_GAIN
    window = [knee] + later + ([broken] if broken else [])
    limiting, util = _limiting(window)
    if limiting == "load_generator":
        lower, advice = True, ("The load generator saturated first, so this knee is a LOWER BOUND on the "
                               "service. Add Locust workers: `hongbao storm --processes N` (one per core), "
                               "or run workers on more machines (locust --master / --worker).")
    elif limiting == "machine":
        lower, advice = True, ("Every core of this machine was busy (load generator, service and any "
                               "other work share them) while no single component saturated its own "
                               "cores, so this knee is a LOWER BOUND: run the Locust workers on other "
                               "machines (locust --master / --worker) or on an idle machine.")
    elif limiting == "none" and broken is None:
        lower, advice = True, ("Nothing saturated before the ramp ended, so this knee is a LOWER BOUND: "
                               "ramp to more users or add Locust workers.")
    elif limiting == "none":
        lower, advice = False, ("The SLO broke before any component's CPU saturated: look for queueing, "
                                "locks or the network rather than CPU.")
    else:
        lower, advice = False, f"The {limiting.replace('_', ' ')} saturated first: it sets this knee."
    return Knee(knee.grabs_per_second, steps.index(knee), knee.p99_ms, stop_reason, limiting, lower,
                advice, util, plateaued, breach_index)
