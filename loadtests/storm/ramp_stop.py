"""The step ramp's stop rule: a ramp whose ``[shape]`` has ``stop_p99_ms`` and/or
``stop_error_ratio`` ends after the first finished step that breaks either, so saturation search
does not keep loading a service already past its knee. Figures over a step are taken as in
``per_step``: whole seconds, the first ``settle_s`` (users still spawning) left out."""

from __future__ import annotations

from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.outcomes import GRAB_NAMES
from hongbao.loadtests.storm.recording import Recording
from hongbao.loadtests.storm.shape_plan import ramp_step


def step_figures(
    recording: Recording, t0: float, step: int, step_s: float, settle_s: float = 1.0
) -> tuple[float | None, float | None]:
    """(grab p99 in ms, error ratio of grab requests) over one ramp step; None where nothing ran."""
    lo, hi = t0 + step * step_s + settle_s, t0 + (step + 1) * step_s
    hist, requests, failures = Histogram(), 0, 0
    for sec, names in recording.timeline.items():
        if lo <= sec and sec + 1 <= hi:
            for name, (n, f) in names.items():
                if name in GRAB_NAMES:
                    requests += n
                    failures += f
            if sec in recording.grab_hist:
                hist.merge(recording.grab_hist[sec])
    p99 = hist.percentile_us(99)
    return (None if p99 is None else p99 / 1000.0), (failures / requests if requests else None)


class RampStop:
    """Checks each step once, as soon as it has finished; ``stopped`` holds the reason once hit."""

    def __init__(self, shape: str, params: dict) -> None:
        self.params = params
        self.p99_limit = params.get("stop_p99_ms")
        self.err_limit = params.get("stop_error_ratio")
        self.active = shape == "ramp" and (self.p99_limit is not None or self.err_limit is not None)
        self.checked = -1
        self.stopped: dict | None = None

    def breached(self, recording: Recording, started_at: float | None, t_s: float) -> bool:
        if self.stopped:
            return True
        done = ramp_step(self.params, t_s) - 1  # the last step that has finished
        if not self.active or started_at is None or done <= self.checked:
            return False
        self.checked = done
        p99_ms, errors = step_figures(recording, started_at, done, float(self.params.get("step_s", 5)))
        why = []
        if self.p99_limit is not None and p99_ms is not None and p99_ms > float(self.p99_limit):
            why.append(f"p99 {p99_ms:.1f} ms > {float(self.p99_limit):g} ms")
        if self.err_limit is not None and errors is not None and errors > float(self.err_limit):
            why.append(f"errors {errors:.2%} > {float(self.err_limit):.2%}")
        if why:
            self.stopped = {
                "after_step": done,
                "p99_ms": p99_ms,
                "error_ratio": errors,
                "reason": f"step {done}: " + ", ".join(why),
            }
        return bool(why)
