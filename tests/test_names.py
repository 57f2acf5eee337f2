"""One name per idea: each command's help is written once, and every ``python -m X`` the kit
shows (usage strings, docstrings, README, docs) names a module that runs."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hongbao.harness import cli

ROOT = Path(__file__).resolve().parents[1]
SHOWN_IN = ["README.md", "docs", "kernels", "harness", "loadtests", "seeds", "tests", "bootstrap.py", ".ci"]
PYTHON_M = re.compile(r"python3? -m ((?:hongbao|tests)(?:\.\w+)+)")


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_the_listed_help_is_the_modules_help(name):
    module = importlib.import_module(f"hongbao.harness.commands.{cli.COMMANDS[name]}")
    assert cli.summary(name) == module.HELP
    parser, subparsers = cli.create_parser()
    assert subparsers[name].description == module.HELP


def test_listing_the_commands_imports_none_of_them():
    probe = (
        "import sys; from hongbao.harness import cli; cli.create_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('hongbao.harness.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def _shown_modules() -> dict[str, str]:
    """``python -m X`` for every X named in the repository's code and documentation -> where."""
    found: dict[str, str] = {}
    for top in SHOWN_IN:
        path = ROOT / top
        files = (
            [path]
            if path.is_file()
            else [p for p in path.rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".toml", ".ini", "")]
        )
        for file in files:
            for match in PYTHON_M.finditer(file.read_text(encoding="utf-8", errors="replace")):
                found.setdefault(match.group(1), str(file.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_usage_strings():
    shown = _shown_modules()
    assert "hongbao.harness.calibrate" in shown and "hongbao.loadtests.audit" in shown


@pytest.mark.parametrize("module", sorted(_shown_modules()))
def test_every_python_m_shown_names_a_runnable_module(module):
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"python -m {module} (in {_shown_modules()[module]}): no such module"
    if spec.submodule_search_locations:  # a package runs its __main__
        spec = importlib.util.find_spec(module + ".__main__")
        assert spec is not None, f"python -m {module}: the package has no __main__"
    else:
        source = Path(spec.origin).read_text(encoding="utf-8")
        assert re.search(r"""if __name__ == ["']__main__["']""", source), f"python -m {module}: no main block"
