"""Knee finding: from the steps of one step ramp to the highest sustainable rate.

A ramp offers grabs at a rising arrival rate (the open model; steps of concurrent users in the
closed model). A step is sustainable when its p99 (from each grab's intended start, in the open
model) is within the SLO, its error ratio within the budget and under 0.1% of its offered grabs
were dropped (not started within the storm's tolerance of their intended time). The ramp stops at
the first step that is not; the knee is the highest offered rate sustained before it. The
component that limited the knee is the one whose CPU was closest to its cores (load generator,
service or store). A knee set by a saturated load generator -- or by nothing at all, when the ramp
ended before anything saturated -- is only a lower bound on what the service can take.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

COMPONENTS = ("load_generator", "service", "store")
SATURATED = 0.85  # a component busy on >= 85% of its cores is called saturated
PLATEAU_GAIN = 1.05  # more offered load but < 5% more grabs/s: throughput has plateaued
#: how the report names each limit
LIMIT_NAMES = {
    "load_generator": "load generator",
    "service": "service",
    "store": "store",
    "machine": "the whole machine",
    "none": "nothing saturated",
}
DROPPED_BUDGET = 0.001  # a step that dropped this share of its offered grabs or more is not sustained


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
    cpu_cores: dict[str, float] = field(default_factory=dict)  # component -> cores busy (1.0 = one core)
    cores: dict[str, float] = field(default_factory=dict)  # component -> cores it may use
    loadgen_saturated: bool = False  # the storm kit flagged Locust as out of CPU in this step
    offered_per_second: float | None = None  # open model: the step's arrival rate (grabs/s)
    answered_per_second: float | None = None  # grab requests answered (not failed) per second
    offered: float = 0.0  # open model: grabs meant to start in the measured seconds
    dropped: int = 0  # ... of which the generator could not start in time

    @property
    def dropped_ratio(self) -> float:
        return self.dropped / self.offered if self.offered else 0.0

    @property
    def load(self) -> float:
        """The step's offered load: grabs/s in the open model, users in the closed one."""
        return self.offered_per_second if self.offered_per_second is not None else float(self.users)

    @property
    def where(self) -> str:
        return (
            f"{self.offered_per_second:,.0f} offered grabs/s"
            if self.offered_per_second is not None
            else f"{self.users} users"
        )

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
        data["dropped_ratio"] = self.dropped_ratio
        data["utilisation"] = {c: self.utilisation(c) for c in (*COMPONENTS, "machine")}
        return data

    @classmethod
    def from_json(cls, data: dict) -> RampStep:
        names = (
            "users",
            "duration_s",
            "requests",
            "failures",
            "grabs_per_second",
            "p50_ms",
            "p99_ms",
            "cpu_cores",
            "cores",
            "loadgen_saturated",
            "offered_per_second",
            "answered_per_second",
            "offered",
            "dropped",
        )
        return cls(**{k: data[k] for k in names if k in data})


@dataclass
class Knee:
    """The result of one ramp's saturation search."""

    grabs_per_second: float | None  # new grabs/s answered at the knee; None: no step was sustainable
    step_index: int | None
    p99_ms: float | None
    stop_reason: str
    limiting: str  # a COMPONENTS name, "machine" (all cores busy), or "none"
    lower_bound: bool
    advice: str
    utilisation: dict[str, float | None] = field(default_factory=dict)
    plateaued: bool = False
    breach_index: int | None = None  # the step that stopped the search (later steps are not used)
    offered_per_second: float | None = None  # open model: the knee itself, the highest offered rate sustained
    answered_per_second: float | None = None  # grab requests answered per second at the knee
    dropped: int | None = None  # grabs dropped at the knee step

    def to_json(self) -> dict:
        return asdict(self)


def breach(step: RampStep, p99_slo_ms: float, error_budget: float) -> str | None:
    """Why ``step`` is not sustainable, or None when it is."""
    if step.duration_s == 0:
        return f"the step at {step.where} had no whole second to measure: use longer steps"
    if step.requests == 0:
        return f"no grab was answered at {step.where}"
    if step.error_ratio > error_budget:
        return f"errors {step.error_ratio:.2%} > budget {error_budget:.2%} at {step.where}"
    if step.dropped_ratio >= DROPPED_BUDGET:
        return f"dropped {step.dropped:,} grabs ({step.dropped_ratio:.2%} >= {DROPPED_BUDGET:.1%}) at {step.where}"
    if step.p99_ms > p99_slo_ms:
        return f"p99 {step.p99_ms:.1f} ms > SLO {p99_slo_ms:g} ms at {step.where}"
    return None


def _limiting(steps: list[RampStep]) -> tuple[str, dict[str, float | None]]:
    """The most utilised component over ``steps`` (the knee and the step that broke it)."""
    worst: dict[str, float | None] = {}
    for c in COMPONENTS:
        values = [u for s in steps if (u := s.utilisation(c)) is not None]
        worst[c] = max(values) if values else None
    if any(s.loadgen_saturated for s in steps):
        worst["load_generator"] = max(worst["load_generator"] or 0.0, 1.0)  # Locust said so itself
    machine = [u for s in steps if (u := s.utilisation("machine")) is not None]
    worst["machine"] = max(machine) if machine else None
    known = {c: v for c in COMPONENTS if (v := worst[c]) is not None}
    name = max(known, key=known.__getitem__) if known else "none"
    if name != "none" and known[name] >= SATURATED:
        return name, worst
    if machine and max(machine) >= SATURATED:
        return "machine", worst  # every core busy, but no one component owned them
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
        return Knee(
            None,
            None,
            None,
            stop_reason,
            "none",
            True,
            "The first step already broke the SLO: start the ramp lower or relax --p99.",
            breach_index=breach_index,
        )
    best = max(
        range(len(sustainable)),
        key=lambda i: (sustainable[i].offered_per_second or 0.0, sustainable[i].grabs_per_second),
    )
    knee = sustainable[best]
    later = sustainable[best + 1 :]
    last_two = sustainable[-2:]
    plateaued = (
        len(last_two) == 2
        and last_two[1].load > last_two[0].load
        and last_two[1].grabs_per_second < last_two[0].grabs_per_second * PLATEAU_GAIN
    )
    window = [knee] + later + ([broken] if broken else [])
    limiting, util = _limiting(window)
    if limiting == "load_generator":
        lower, advice = (
            True,
            (
                "The load generator saturated first, so this knee is a LOWER BOUND on the "
                "service. Add load generators: --processes N (one per core), or a fleet on "
                "other machines (--master --expect-workers N, `hongbao worker` on each)."
            ),
        )
    elif limiting == "machine":
        lower, advice = (
            True,
            (
                "Every core of this machine was busy (load generator, service and any "
                "other work share them) while no single component saturated its own "
                "cores, so this knee is a LOWER BOUND: run the load generators on other "
                "machines (--master --expect-workers N, `hongbao worker` on each)."
            ),
        )
    elif limiting == "none" and broken is not None and broken.dropped_ratio >= DROPPED_BUDGET:
        # grabs the generator could not start on time, with no CPU saturated: one Locust process's
        # event loop falls behind before its core is full (a second process moves such a knee up)
        limiting, lower, advice = (
            "load_generator",
            True,
            (
                "The load generator could not start every grab on time (dropped grabs) before any "
                "CPU saturated: one Locust process's event loop falls behind before its core is "
                "full, so this knee is a LOWER BOUND on the service. Add load generators: "
                "--processes N, or a fleet (--master --expect-workers N, `hongbao worker` on each)."
            ),
        )
    elif limiting == "none" and broken is None:
        lower, advice = (
            True,
            (
                "Nothing saturated before the ramp ended, so this knee is a LOWER BOUND: "
                "ramp higher (--start-rate, --step-rate, --steps) or add load generators."
            ),
        )
    elif limiting == "none":
        lower, advice = (
            False,
            (
                "The SLO broke before any component's CPU saturated: look for queueing, "
                "locks or the network rather than CPU."
            ),
        )
    else:
        lower, advice = False, f"The {limiting.replace('_', ' ')} saturated first: it sets this knee."
    return Knee(
        knee.grabs_per_second,
        steps.index(knee),
        knee.p99_ms,
        stop_reason,
        limiting,
        lower,
        advice,
        util,
        plateaued,
        breach_index,
        knee.offered_per_second,
        knee.answered_per_second,
        knee.dropped if knee.offered_per_second is not None else None,
    )
