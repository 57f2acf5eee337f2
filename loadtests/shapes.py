"""Storm shapes for Locust: ``ScenarioShape`` is the one LoadTestShape the locustfile exposes; it
plays the shape named in the scenario (steady, countdown, herd, ramp: see
loadtests/storm/shape_plan.py for each one's parameters) and ends the run after ``duration_s``.
"""
from __future__ import annotations

from locust import LoadTestShape

from loadtests.storm.scenario import from_env
from loadtests.storm.shape_plan import users_at


class ScenarioShape(LoadTestShape):
    """Plays the scenario from $HONGBAO_SCENARIO (see loadtests/storm/scenario.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.scenario = from_env()

    def tick(self):
        return users_at(self.scenario, self.get_run_time())
