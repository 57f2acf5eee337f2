"""Projection math: from measured per-core rates to the hardware a target peak needs.

Pure arithmetic, no I/O, so a test can recompute any figure from a run's capacity.json. Every
figure carries the formula and the measurement it came from, and ``ASSUMPTIONS`` lists what the
arithmetic takes for granted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

ASSUMPTIONS = [
    "Linear scaling: N service cores take N times the grabs/s one core took here (no shared lock, "
    "no cross-instance coordination beyond the store).",
    "Headroom: at the peak every component runs at most (1 - headroom) of its measured rate; "
    "memory is sized with the same margin.",
    "One service worker process = one core; an instance is a machine with --cores-per-instance cores.",
    "One Redis shard = one core: Redis runs the grab script on one thread, so shards scale it out "
    "(keys carry a per-envelope hash tag, so Redis Cluster spreads envelopes over shards).",
    "Hot envelopes are spread evenly across shards; a single envelope cannot be grabbed faster than one shard allows.",
    "Split-kernel cores: one share computed per grab by the Numba batch kernel (what pre_split costs); "
    "the service's measured cost per grab already includes whatever splitting it did.",
    "Measured on this machine (shared cores, other work running): per-core rates on dedicated "
    "production cores are usually higher, so the projection errs on the side of more hardware.",
]


@dataclass
class Inputs:
    """The measured rates a projection starts from (all per core unless named otherwise)."""

    target_grabs_per_second: float
    headroom: float
    service_grabs_per_core: float
    service_basis: str
    cores_per_instance: int = 16
    kernel_shares_per_second: float | None = None
    kernel_basis: str = ""
    redis_grabs_per_core: float | None = None
    redis_basis: str = ""
    loadgen_grabs_per_core: float | None = None
    bytes_per_envelope: dict[str, float] = field(default_factory=dict)  # store -> bytes per open envelope
    memory_basis: str = ""
    shares_per_envelope: int = 10
    open_envelopes: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Inputs:
        return cls(**data)


def service_rate_per_core(
    grabs_per_second: float, service_cpu_cores: float | None, service_workers: int
) -> tuple[float, str]:
    """Grabs/s one service core sustains, and how that was derived from the knee step."""
    if grabs_per_second <= 0:
        raise ValueError("grabs_per_second must be > 0 to project capacity")
    if service_cpu_cores is not None and service_cpu_cores >= 0.05:
        busy = service_cpu_cores
        how = (
            f"knee {grabs_per_second:,.0f} grabs/s / {busy:.2f} service CPU cores busy at the knee "
            f"(CPU cost per grab: {busy / grabs_per_second * 1e6:,.1f} µs)"
        )
        if busy < 0.85 * service_workers:
            how += "; the service was not saturated, so this extrapolates its CPU cost to a full core"
        return grabs_per_second / busy, how
    return (
        grabs_per_second / service_workers,
        f"knee {grabs_per_second:,.0f} grabs/s / {service_workers} service worker(s) (service CPU not measured)",
    )


def _row(quantity: str, value, unit: str, formula: str, source: str) -> dict:
    return {"quantity": quantity, "value": value, "unit": unit, "formula": formula, "from": source}


def project(inp: Inputs) -> list[dict]:
    """The projection table: one row per quantity, each with its value, formula and source."""
    if not 0 <= inp.headroom < 1:
        raise ValueError(f"headroom must be in [0, 1) (got {inp.headroom})")
    if inp.target_grabs_per_second <= 0:
        raise ValueError("target_grabs_per_second must be > 0")
    target, usable = inp.target_grabs_per_second, 1.0 - inp.headroom
    need = target / usable  # the rate the fleet must sustain at its measured per-core rates
    rows = []
    cores = math.ceil(need / inp.service_grabs_per_core)
    rows.append(
        _row(
            "service cores",
            cores,
            "cores",
            f"ceil({target:,.0f} / {usable:.2f} / {inp.service_grabs_per_core:,.0f} grabs/s per core)",
            inp.service_basis,
        )
    )
    rows.append(
        _row(
            "service instances",
            math.ceil(cores / inp.cores_per_instance),
            "instances",
            f"ceil({cores} cores / {inp.cores_per_instance} cores per instance)",
            "--cores-per-instance",
        )
    )
    if inp.redis_grabs_per_core:
        shards = math.ceil(need / inp.redis_grabs_per_core)
        rows.append(
            _row(
                "Redis shards",
                shards,
                "shards (1 core each)",
                f"ceil({target:,.0f} / {usable:.2f} / {inp.redis_grabs_per_core:,.0f} grabs/s per shard)",
                inp.redis_basis,
            )
        )
    if inp.kernel_shares_per_second:
        kcores = need / inp.kernel_shares_per_second
        rows.append(
            _row(
                "split-kernel cores",
                kcores,
                "cores",
                f"{target:,.0f} / {usable:.2f} / {inp.kernel_shares_per_second:,.0f} shares/s per core",
                inp.kernel_basis,
            )
        )
    for store, per_envelope in sorted(inp.bytes_per_envelope.items()):
        per_million = per_envelope * 1e6
        rows.append(
            _row(
                f"{store} store: memory per million open envelopes",
                per_million / 2**20,
                "MiB",
                f"{per_envelope:,.0f} bytes per envelope x 1e6",
                inp.memory_basis or f"measured on envelopes of {inp.shares_per_envelope} shares",
            )
        )
        if inp.open_envelopes:
            peak = per_envelope * inp.open_envelopes / usable
            rows.append(
                _row(
                    f"{store} store: memory at the peak",
                    peak / 2**30,
                    "GiB",
                    f"{per_envelope:,.0f} bytes x {inp.open_envelopes:,.0f} open envelopes / {usable:.2f}",
                    "target's open-envelope model (grabs/s / grabs per envelope x open window)",
                )
            )
    if inp.loadgen_grabs_per_core:
        rows.append(
            _row(
                "load-generator cores to storm-test the target",
                math.ceil(target / inp.loadgen_grabs_per_core),
                "cores",
                f"ceil({target:,.0f} / {inp.loadgen_grabs_per_core:,.0f} grabs/s per Locust core)",
                "Locust CPU at the knee",
            )
        )
    return rows


def row_value(rows: list[dict], quantity: str):
    """The value of the row named ``quantity`` (KeyError when absent)."""
    for row in rows:
        if row["quantity"] == quantity:
            return row["value"]
    raise KeyError(quantity)
