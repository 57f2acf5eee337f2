"""Fault injection for storms (issue 8): SIGKILL redis-server or the service mid-storm, restart it,
retry with the same request ids, then audit.

    from hongbao.loadtests.faults import parse_fault, run_fault, FaultRunConfig
    report = run_fault(FaultRunConfig(parse_fault("kill-redis@1.5s"), fsync="always"))
    report.ok, report.reasons, report.summary(), report.data

``FaultInjector(fault, kill, restart, t0)`` is the timing piece alone, for a storm that owns its
processes (e.g. ``hongbao storm --fault``): a thread that kills and restarts at the given times.
"""
from hongbao.loadtests.faults.promises import PROMISES, promise
from hongbao.loadtests.faults.run import FaultInjector, FaultReport, FaultRunConfig, run_fault
from hongbao.loadtests.faults.spec import Fault, parse_fault

__all__ = ["Fault", "parse_fault", "FaultRunConfig", "FaultReport", "FaultInjector", "run_fault",
           "PROMISES", "promise"]
