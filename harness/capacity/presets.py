"""Capacity targets: published peaks in seeds/capacity/*.toml, and parsing of the CLI's figures.

Every parser raises ``ValueError`` whose message starts with the flag it was given for, so the
command can answer "exit 2 naming the flag" without guessing.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hongbao.seeds import seed_file

PRESET_DIR = seed_file("capacity")

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}
_RATE = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kKmM]?)\s*(?:/\s*s(?:ec(?:ond)?)?)?\s*$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(us|µs|ms|s)\s*$")
_DURATION_MS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Target:
    """A peak to plan for: grabs per second plus where the figure comes from."""

    name: str
    grabs_per_second: float
    title: str = ""
    metric: str = "grab requests per second"
    source: str = "given on the command line"
    assumptions: list[str] = field(default_factory=list)
    grabs_per_envelope: int = 10
    open_window_seconds: float = 60.0

    @property
    def open_envelopes(self) -> float:
        """Envelopes open at once at the peak: created in the last ``open_window_seconds``."""
        return self.grabs_per_second / self.grabs_per_envelope * self.open_window_seconds

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "grabs_per_second": self.grabs_per_second,
            "metric": self.metric,
            "source": self.source,
            "assumptions": list(self.assumptions),
            "grabs_per_envelope": self.grabs_per_envelope,
            "open_window_seconds": self.open_window_seconds,
            "open_envelopes": self.open_envelopes,
        }


def parse_rate(text: str, flag: str = "--target") -> float:
    """``"760000/s"``, ``"760k/s"``, ``"1.2M/s"``, ``"760_000"`` -> requests per second (> 0)."""
    match = _RATE.match(str(text))
    if not match:
        raise ValueError(f"{flag}: expected a rate such as 760000/s or 760k/s (got {text!r})")
    number = float(match.group(1).replace("_", "").replace(",", ""))
    value = number * _SUFFIX[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{flag}: the rate must be > 0 per second (got {text!r})")
    return value


def parse_duration_ms(text: str, flag: str = "--p99") -> float:
    """``"200ms"``, ``"0.2s"``, ``"500us"`` -> milliseconds (> 0). A bare number is refused."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{flag}: expected a duration with its unit, such as 200ms or 0.2s (got {text!r})")
    value = float(match.group(1)) * _DURATION_MS[match.group(2)]
    if value <= 0:
        raise ValueError(f"{flag}: must be > 0 (got {text!r})")
    return value


def parse_fraction(text: str, flag: str = "--headroom", *, upper: float = 0.9) -> float:
    """``"30%"`` or ``"0.3"`` -> 0.3; must lie in [0, upper]."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{flag}: expected a percentage such as 30% (got {text!r})") from None
    if not raw.endswith("%") and value >= 1:
        raise ValueError(f"{flag}: write a percentage such as 30% or a fraction such as 0.3 (got {text!r})")
    if not math.isfinite(value) or not 0 <= value <= upper:
        raise ValueError(f"{flag}: must be between 0% and {upper:.0%} (got {text!r})")
    return value


def preset_names(directory: Path = PRESET_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_preset(name: str, directory: Path = PRESET_DIR) -> Target:
    """Load seeds/capacity/<name>.toml (or a path to such a file) as a Target."""
    path = Path(name) if name.endswith(".toml") else directory / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(preset_names(directory)) or "none"
        raise ValueError(f"--preset: no preset {name!r} (known: {known})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--preset: {path} is not valid TOML: {exc}") from None
    for key in ("name", "peak_per_second", "source"):
        if key not in data:
            raise ValueError(f"--preset: {path} lacks the field {key!r}")
    rate = data["peak_per_second"]
    if not isinstance(rate, (int, float)) or rate <= 0:
        raise ValueError(f"--preset: {path}: peak_per_second must be a number > 0 (got {rate!r})")
    return Target(
        name=data["name"],
        grabs_per_second=float(rate),
        title=data.get("title", data["name"]),
        metric=data.get("metric", "requests per second"),
        source=data["source"].strip(),
        assumptions=list(data.get("assumptions", [])),
        grabs_per_envelope=int(data.get("grabs_per_envelope", 10)),
        open_window_seconds=float(data.get("open_window_seconds", 60)),
    )


def resolve_target(target: str | None, preset: str | None) -> Target:
    """The Target from ``--target`` or ``--preset`` (default: the wechat-2017 preset)."""
    if target and preset:
        raise ValueError("--target: give either --target or --preset, not both")
    if target:
        rate = parse_rate(target, "--target")
        return Target(
            name=f"{rate:,.0f}/s",
            grabs_per_second=rate,
            title=f"{rate:,.0f} grabs/s",
            assumptions=["Default open-envelope model: 10 grabs per envelope, 60 s open."],
        )
    return load_preset(preset or "wechat-2017")
