"""Storm shapes for Locust: ``ScenarioShape`` is the one LoadTestShape the locustfile exposes; it
plays the shape named in the scenario (steady, countdown, herd, ramp: see
loadtests/storm/shape_plan.py for each one's parameters) and ends the run after ``duration_s``,
or, for a ramp with stop limits, after the first step past them (loadtests/storm/ramp_stop.py).
"""

from __future__ import annotations

from locust import LoadTestShape

from hongbao.loadtests.storm import recorder
from hongbao.loadtests.storm.ramp_stop import RampStop
from hongbao.loadtests.storm.scenario import from_env
from hongbao.loadtests.storm.shape_plan import users_at


class ScenarioShape(LoadTestShape):
    """Plays the scenario from $HONGBAO_SCENARIO (see loadtests/storm/scenario.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.scenario = from_env()
        self.stop = RampStop(self.scenario.shape, self.scenario.shape_params)

    def tick(self):
        t_s = self.get_run_time()
        if self.stop.breached(recorder.RECORDING, recorder.STATE.get("started_at"), t_s):
            recorder.STATE["stopped_early"] = self.stop.stopped
            return None
        return users_at(self.scenario, t_s)
