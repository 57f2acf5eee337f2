"""The ``hongbao`` command: a thin dispatcher over harness/commands/<name>.py.

Each command module defines ``HELP`` (its one-line help, the only place it is written),
``add_arguments(parser)`` and ``run(args) -> int`` (an exit code from loadtests.exitcodes). Modules
are imported only when their command runs, so ``hongbao --help`` is instant and one broken command
cannot break the others; the listing reads each ``HELP`` from the module's source.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
from pathlib import Path

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


def summary(name: str) -> str:
    """The one-line help of command ``name``: its module's ``HELP``, read from the module's source
    (not imported, so ``hongbao --help`` stays instant and shows even a command that fails to import)."""
    spec = importlib.util.find_spec(f"hongbao.harness.commands.{COMMANDS[name]}")
    if spec is None or spec.origin is None:
        raise LookupError(f"hongbao {name}: no module hongbao.harness.commands.{COMMANDS[name]}")
    for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "HELP" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise LookupError(f"hongbao {name}: {spec.origin} defines no HELP = '...'")


def create_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="hongbao",
        description="hongbao-bench: which split algorithm is fast and fair, did this change regress, "
        "and how much hardware survives the midnight grab storm.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {}
    for name in COMMANDS:
        subparsers[name] = sub.add_parser(name, help=(line := summary(name)), description=line)
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
