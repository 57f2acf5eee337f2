"""Request parsing and validation: limits of the API and the exact checks behind each 4xx.

Every check here runs before any store is touched, so a rejected request writes nothing.
Each error names the field and the rule it broke.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import orjson

from hongbao import kernels
from hongbao.loadtests.service.errors import ApiError, invalid

MAX_BODY_BYTES = 4096
MAX_TOTAL_CENTS = 10**12  # also keeps every amount exact in Redis Lua (doubles, 2**53)
MAX_COUNT = 100_000
MAX_EXPIRES_IN_S = 7 * 86400.0
DEFAULT_EXPIRES_IN_S = 86400.0
NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
NAME_MAX_CHARS = 64
MODES = ("pre_split", "on_grab")
MAX_ENVELOPE_ID = 2**63 - 1

_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # used with fullmatch: no trailing newline slips by


@dataclass(frozen=True)
class EnvelopeSpec:
    """A validated create request. ``max_cents`` None means uncapped."""

    sender: str
    total_cents: int
    count: int
    algorithm: str
    mode: str
    min_cents: int
    max_cents: int | None
    expires_in_s: float


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> dict:
    """The body as a JSON object; 400 ``invalid_json`` otherwise."""
    if not body:
        raise ApiError(400, "invalid_json", "request body is empty: send a JSON object", "body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # orjson refuses integers beyond 64 bits; the stdlib parses them so the field is named
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}", "body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", f"request body must be a JSON object (got {_kind(data)})", "body")
    return data


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fields(data: dict, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    for name in required:
        if name not in data:
            raise ApiError(422, "missing_field", f"{name} is required", name)
    for name in data:
        if name not in required and name not in optional:
            allowed = ", ".join(required + optional)
            raise ApiError(
                422, "unknown_field", f"{name} is not a field of this request (allowed: {allowed})", str(name)[:64]
            )


def name(data: dict, field: str) -> str:
    value = data[field]
    if not isinstance(value, str):
        raise invalid(field, f"{field} must be a string (got {_kind(value)})")
    if not _NAME.fullmatch(value):
        raise invalid(
            field,
            f"{field} must be 1..{NAME_MAX_CHARS} characters of A-Z a-z 0-9 _ . : - "
            f"(got {len(value)} characters: {value[:80]!r})",
        )
    return value


def integer(data: dict, field: str, lo: int, hi: int) -> int:
    value = data[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"{field} must be an integer (got {_kind(value)})")
    if not lo <= value <= hi:
        shown = value if abs(value) < 10**30 else f"{str(value)[:20]}... ({len(str(value))} digits)"
        raise invalid(field, f"{field} must be between {lo} and {hi} (got {shown})")
    return value


def parse_create(body: bytes) -> EnvelopeSpec:
    """Validate ``POST /envelopes``: types, limits, then feasibility via ``kernels.check``."""
    data = parse_json(body)
    _fields(data, ("sender", "total_cents", "count", "algorithm", "mode"), ("min_cents", "max_cents", "expires_in_s"))
    sender = name(data, "sender")
    total = integer(data, "total_cents", 1, MAX_TOTAL_CENTS)
    count = integer(data, "count", 1, MAX_COUNT)
    algorithm = data["algorithm"]
    if not isinstance(algorithm, str) or algorithm not in kernels.ALGORITHMS:
        raise invalid(
            "algorithm", f"algorithm must be one of {', '.join(kernels.ALGORITHMS)} (got {_short(algorithm)})"
        )
    mode = data["mode"]
    if not isinstance(mode, str) or mode not in MODES:
        raise invalid("mode", f"mode must be one of {', '.join(MODES)} (got {_short(mode)})")
    if mode == "on_grab" and not kernels.ALGORITHMS[algorithm].online:
        online = ", ".join(a.name for a in kernels.ALGORITHMS.values() if a.online)
        raise invalid("mode", f"mode on_grab needs an online algorithm ({online}); {algorithm} can only be pre_split")
    min_cents = integer(data, "min_cents", 0, MAX_TOTAL_CENTS) if "min_cents" in data else 1
    max_cents = None
    if data.get("max_cents") is not None:
        max_cents = integer(data, "max_cents", 1, MAX_TOTAL_CENTS)
    expires = data.get("expires_in_s", DEFAULT_EXPIRES_IN_S)
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        raise invalid("expires_in_s", f"expires_in_s must be a number of seconds (got {_kind(expires)})")
    if not 0 < expires <= MAX_EXPIRES_IN_S:
        raise invalid("expires_in_s", f"expires_in_s must be > 0 and <= {MAX_EXPIRES_IN_S:g} (got {expires})")
    try:
        kernels.check(total, count, algorithm=algorithm, min_cents=min_cents, max_cents=max_cents)
    except ValueError as exc:
        text = str(exc)
        raise invalid(text.split(" ", 1)[0], text) from None
    return EnvelopeSpec(sender, total, count, algorithm, mode, min_cents, max_cents, float(expires))


def parse_grab(body: bytes) -> tuple[str, str]:
    """Validate ``POST /envelopes/{id}/grab``: returns (user, request_id)."""
    try:  # fast path: exactly the two fields, both well-formed
        data = orjson.loads(body)
        user, request_id = data["user"], data["request_id"]
        if (
            len(data) == 2
            and type(user) is str
            and type(request_id) is str
            and _NAME.fullmatch(user)
            and _NAME.fullmatch(request_id)
        ):
            return user, request_id
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    data = parse_json(body)  # the slow path finds and names the fault
    _fields(data, ("user", "request_id"), ())
    return name(data, "user"), name(data, "request_id")


def parse_refund(body: bytes) -> str | None:
    """Validate ``POST /envelopes/{id}/refund``: the body is optional; returns its request_id."""
    if not body.strip():
        return None
    data = parse_json(body)
    _fields(data, (), ("request_id",))
    return name(data, "request_id") if "request_id" in data else None


def envelope_id(text: str) -> int:
    """A path id: a positive decimal integer, else 404 (no such envelope can exist)."""
    if text.isdigit() and len(text) < 19 and text[0] != "0" and text.isascii():
        return int(text)
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or text.startswith("0"):
        raise ApiError(404, "not_found", f"envelope id must be a positive integer (got {text[:40]!r})", "id")
    value = int(text)
    if value > MAX_ENVELOPE_ID:
        raise ApiError(404, "not_found", f"envelope id must be <= {MAX_ENVELOPE_ID} (got {value})", "id")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
