"""Fault runs and soaks: kill, pause or restart the service (or redis-server) mid-load through a
nemesis (nemesis.py), let the clients retry with the same request ids, then audit the ledger
export against every acknowledged grab.

    from hongbao.loadtests.faults import parse_fault, run_fault, FaultRunConfig
    report = run_fault(FaultRunConfig(parse_fault("kill-redis@1.5s"), fsync="always"))
    report.ok, report.reasons, report.summary(), report.data

``FaultInjector(fault, nemesis, history)`` is the timing piece alone: a thread that performs the
fault's operation and its undo at the given times through any nemesis.
"""

from hongbao.loadtests.faults.promises import PROMISES, promise
from hongbao.loadtests.faults.run import FaultInjector, FaultReport, FaultRunConfig, run_fault
from hongbao.loadtests.faults.spec import Fault, parse_fault

__all__ = ["Fault", "parse_fault", "FaultRunConfig", "FaultReport", "FaultInjector", "run_fault", "PROMISES", "promise"]
