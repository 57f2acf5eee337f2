"""The nemesis (after Jepsen's): the part of a fault run that breaks things, on a schedule, while
the clients keep grabbing. A nemesis has named operations and three calls:

    setup()            once, before the load
    invoke(op) -> str  perform ``op`` (e.g. "kill-service"); return a note; raise when it failed
    teardown()         once, after the load (undo anything still broken)

Operations are ``ACTION-TARGET``: kill, restart, pause, resume of ``service`` (or ``redis``).
A scheduled fault (spec.Fault) is one operation and, ``down_s`` later, its undo:

    kill-T    -> kill-T, then restart-T
    pause-T   -> pause-T, then resume-T
    restart-T -> restart-T (a graceful restart, in one operation)

Three nemeses:

- ``KitNemesis``: the processes the kit started (redis-server, ``hongbao serve``), by PID.
- ``CommandNemesis``: a service the kit did not start, through the user's shell commands
  (``--nemesis-cmd kill='docker kill svc' --nemesis-cmd restart='docker start svc' ...``).
- any class named ``--nemesis module:Class`` (built with no arguments) with those three calls
  and an ``ops`` tuple of the operations it can perform.

Every operation goes into the history with its start and end time (seconds after the load began)
and its outcome, beside the clients' operations.
"""

from __future__ import annotations

import importlib
import shlex
import subprocess
import time
from dataclasses import dataclass, field

from hongbao.loadtests.faults.spec import Fault

CMD_ACTIONS = ("kill", "restart", "pause", "resume")
UNDO = {"kill": "restart", "pause": "resume"}
COMMAND_TIMEOUT_S = 60.0


class Nemesis:
    """The protocol, with do-nothing defaults. ``ops``: the operations ``invoke`` accepts."""

    ops: tuple[str, ...] = ()

    def setup(self) -> None:
        """Called once before the load starts."""

    def invoke(self, op: str) -> str:
        """Perform ``op``; a short note for the history. Raise (any exception) when it failed."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Called once after the load: leave the target running."""


def steps(fault: Fault) -> tuple[str, str | None]:
    """(operation, its undo or None) for one scheduled fault."""
    undo = UNDO.get(fault.action)
    return f"{fault.action}-{fault.target}", (f"{undo}-{fault.target}" if undo else None)


def needed_ops(faults: list[Fault]) -> set[str]:
    return {op for f in faults for op in steps(f) if op}


class KitNemesis(Nemesis):
    """Faults on the processes the kit started (``procs.Restartable``), by PID: kill = SIGKILL,
    restart = SIGTERM (when running) and start again on the same port and data dir, pause/resume
    = SIGSTOP/SIGCONT of the process and its children."""

    def __init__(self, targets: dict) -> None:
        self.targets = {name: proc for name, proc in targets.items() if proc is not None}
        self.ops = tuple(f"{a}-{t}" for t in self.targets for a in CMD_ACTIONS)

    def invoke(self, op: str) -> str:
        action, _, target = op.partition("-")
        proc = self.targets[target]
        if action == "kill":
            proc.kill()
        elif action == "restart":
            proc.stop()
            proc.start()
        else:
            proc.pause(action == "pause")
        return f"pid {proc.pid}"

    def teardown(self) -> None:
        for proc in self.targets.values():
            proc.pause(False)


@dataclass
class CommandNemesis(Nemesis):
    """The user's shell commands, one per action, all aimed at ``service``; each must exit 0
    within COMMAND_TIMEOUT_S (its output is kept in the history when it fails)."""

    commands: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ops = tuple(f"{a}-service" for a in self.commands)

    def invoke(self, op: str) -> str:
        action = op.removesuffix("-service")
        cmd = self.commands[action]
        done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"{action} command exited {done.returncode}: {(done.stderr or done.stdout)[-300:]}")
        return (done.stdout.strip().splitlines() or [""])[-1][:200]


def parse_commands(items: list[str]) -> CommandNemesis:
    """``["kill=docker kill svc", "restart=docker start svc"]`` -> CommandNemesis; ValueError naming
    the flag and the accepted actions otherwise."""
    commands: dict[str, str] = {}
    for item in items:
        action, eq, cmd = item.partition("=")
        action = action.strip()
        if not eq or action not in CMD_ACTIONS or not cmd.strip():
            raise ValueError(
                f"--nemesis-cmd must look like ACTION='shell command' with ACTION one of "
                f"{', '.join(CMD_ACTIONS)} (got {item!r})"
            )
        if action in commands:
            raise ValueError(f"--nemesis-cmd {action} given twice")
        shlex.split(cmd)  # an unbalanced quote fails here, before anything runs
        commands[action] = cmd.strip()
    return CommandNemesis(commands)


def load_nemesis(spec: str) -> Nemesis:
    """An instance of ``module:Class`` (no arguments); ValueError naming the problem otherwise."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--nemesis must look like package.module:Class (got {spec!r})")
    try:
        obj = getattr(importlib.import_module(module_name), attr)()
    except Exception as exc:  # noqa: BLE001 - any failure to build it is the user's to see
        raise ValueError(f"--nemesis {spec!r}: cannot load it ({type(exc).__name__}: {exc})") from None
    missing = [m for m in ("setup", "invoke", "teardown") if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"--nemesis {spec!r}: needs {', '.join(missing)} (see hongbao.loadtests.faults.nemesis)")
    return obj


def check_schedule(nemesis: Nemesis, faults: list[Fault]) -> None:
    """ValueError when a fault needs an operation the nemesis cannot perform."""
    ops = set(getattr(nemesis, "ops", ()) or ())
    missing = sorted(needed_ops(faults) - ops)
    if ops and missing:
        raise ValueError(
            f"the schedule needs {', '.join(missing)} but the nemesis offers only "
            f"{', '.join(sorted(ops))} (give --nemesis-cmd for each)"
        )


@dataclass
class History:
    """The nemesis's operations in the order they ran (seconds after ``t0``)."""

    t0: float
    events: list[dict] = field(default_factory=list)

    def run(self, nemesis: Nemesis, op: str) -> dict:
        """Invoke ``op`` and record it; the record's ``error`` is set when it failed."""
        start = time.monotonic() - self.t0
        event = {"process": "nemesis", "f": op, "start_s": round(start, 3)}
        try:
            event["value"], event["type"] = nemesis.invoke(op), "ok"
        except Exception as exc:  # noqa: BLE001 - a failed fault is recorded and fails the run
            event["type"], event["error"] = "fail", f"{type(exc).__name__}: {exc}"
        event["end_s"] = round(time.monotonic() - self.t0, 3)
        self.events.append(event)
        return event
