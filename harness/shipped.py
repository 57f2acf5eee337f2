"""Where the kit's own files are, and where its runs go.

The kit ships its seeds (storm scenarios, capacity presets, fairness defaults, thresholds) as the
package data ``hongbao.seeds``; they are found by name (``--scenario countdown``) or by path, and a
user's own TOML files work the same way. Run folders go under ``./results/`` of the folder the
command is started in (or ``--out``), never beside the installed code.
"""
from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from pathlib import Path


def seeds_dir() -> Path:
    """The folder of the shipped seeds (``seeds/`` of a checkout, ``hongbao/seeds`` installed)."""
    spec = importlib.util.find_spec("hongbao.seeds")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the kit's seeds (package data hongbao.seeds) are not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def seed_file(*parts: str) -> Path:
    """A shipped seed file, e.g. ``seed_file("storms", "smoke.toml")``."""
    return seeds_dir().joinpath(*parts)


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped TOML files of one kind ("storms", "capacity")."""
    return sorted(p.stem for p in (seeds_dir() / kind).glob("*.toml"))


def find_toml(name_or_path: str | Path, kind: str, flag: str) -> Path:
    """A path as given when it names a file, else the shipped ``seeds/<kind>/<name>.toml``.

    FileNotFoundError names ``flag`` and the shipped names when neither exists."""
    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given
    if given.suffix == "" and given.name == str(name_or_path):
        shipped = seeds_dir() / kind / f"{given.name}.toml"
        if shipped.is_file():
            return shipped
    known = ", ".join(shipped_names(kind)) or "none"
    raise FileNotFoundError(f"{flag}: file not found: {str(name_or_path)!r}, and no shipped {kind} of that "
                            f"name (shipped: {known})")


def timestamp() -> str:
    """A run folder's name: the UTC time, e.g. 20261125T120000Z."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def results_dir() -> Path:
    """``./results`` of the current folder."""
    return Path.cwd() / "results"


def default_run_dir() -> Path:
    """``./results/<UTC timestamp>/`` of the current folder."""
    return results_dir() / timestamp()
