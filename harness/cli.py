"""The ``hongbao`` command: a thin dispatcher over harness/commands/<name>.py.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (an exit code from loadtests.exitcodes). Modules are imported only when their
command runs, so ``hongbao --help`` is instant and one broken command cannot break the others.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: command name -> module under harness.commands, in the order ``--help`` lists them
COMMANDS = {
    "run": "run",
    "bench": "bench",
    "compare": "compare",
    "bisect": "bisect",
    "report": "report",
    "fairness": "fairness",
    "serve": "serve",
    "storm": "storm",
    "worker": "worker",
    "capacity": "capacity",
    "faults": "faults",
    "soak": "soak",
}

_SUMMARIES = {
    "run": "the main job: quick benchmark, fairness, a short storm, capacity, one report",
    "bench": "run the kernel benchmark suites (pytest-benchmark JSON with the kit's ratios)",
    "compare": "regression gate: compare two benchmark runs with significance tests",
    "bisect": "find the commit between GOOD and BAD where a benchmark case got slower (paired, across processes)",
    "report": "write report.md and report.html (with plots) for a run folder",
    "fairness": "fairness scorecard of the split algorithms or of your own allocator",
    "serve": "start the reference grab service (memory or Redis store)",
    "storm": "run a bounded Locust grab storm, audit the ledger, gate on SLOs",
    "worker": "a Locust worker of a fleet storm: joins hongbao storm/capacity --master HOST:PORT",
    "capacity": "saturation search and capacity projection for a target peak",
    "faults": "kill Redis or the service mid-load, restart, retry, and audit that nothing was lost",
    "soak": "grab load under a schedule of kills and pauses, checked after every fault and at the end",
}


def create_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="hongbao",
        description="hongbao-bench: which split algorithm is fast and fair, did this change regress, "
                    "and how much hardware survives the midnight grab storm.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {}
    for name in COMMANDS:
        subparsers[name] = sub.add_parser(name, help=_SUMMARIES[name], description=_SUMMARIES[name])
    return parser, subparsers


def _load(name: str):
    return importlib.import_module(f"hongbao.harness.commands.{COMMANDS[name]}")


def _importable_from_here() -> None:
    """Modules of the folder the command runs in import by name (``--callable mymod:split``), as
    under ``python -m``: the ``hongbao`` script alone puts only its own bin folder on sys.path."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _importable_from_here()
    parser, subparsers = create_parser()
    # only the chosen command's module is imported and asked for its arguments
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen in COMMANDS:
        module = _load(chosen)
        module.add_arguments(subparsers[chosen])
        subparsers[chosen].set_defaults(_module=module)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
