"""The kit's shipped seeds (storm scenarios, capacity presets, fairness defaults, thresholds) and how
to find them.

They travel as the package ``hongbao.seeds``; a file is found by name (``--scenario countdown``) or
by path, and a user's own TOML files work the same way.
"""

from __future__ import annotations

import os
from pathlib import Path


def seeds_dir() -> Path:
    """The folder of the shipped seeds (``seeds/`` of a checkout, ``hongbao/seeds`` installed)."""
    return Path(__file__).resolve().parent


def seed_file(*parts: str) -> Path:
    """A shipped seed file, e.g. ``seed_file("storms", "smoke.toml")``."""
    return seeds_dir().joinpath(*parts)


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped TOML files of one kind ("storms", "capacity")."""
    return sorted(p.stem for p in (seeds_dir() / kind).glob("*.toml"))


def find_toml(name_or_path: str | os.PathLike[str], kind: str, flag: str) -> Path:
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
    raise FileNotFoundError(
        f"{flag}: file not found: {str(name_or_path)!r}, and no shipped {kind} of that name (shipped: {known})"
    )
