"""GET /openapi.json: the service contract as OpenAPI 3.1, precise enough for schemathesis."""

from __future__ import annotations

from hongbao import kernels
from hongbao.loadtests.service import validation as v


def _name(what: str) -> dict:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": v.NAME_MAX_CHARS,
        "pattern": v.NAME_PATTERN,
        "description": f"{what}: 1..{v.NAME_MAX_CHARS} characters of A-Z a-z 0-9 _ . : -",
    }


def _int(lo: int, hi: int, what: str) -> dict:
    return {"type": "integer", "minimum": lo, "maximum": hi, "description": what}


def _obj(props: dict, required: list[str] | None = None, closed: bool = False) -> dict:
    out: dict[str, object] = {
        "type": "object",
        "properties": props,
        "required": required if required is not None else list(props),
    }
    if closed:
        out["additionalProperties"] = False
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_CENTS = {"type": "integer", "minimum": 0}
_ERRORS = {
    400: "invalid_json: the body is not a JSON object (GET /ledger: invalid_query)",
    404: "not_found: no such envelope or route",
    405: "method_not_allowed",
    409: "sold_out, already_refunded or not_expired",
    410: "expired: the envelope expired or was refunded",
    408: "body_timeout: the announced body did not arrive in time",
    413: f"body_too_large: bodies are limited to {v.MAX_BODY_BYTES} bytes",
    415: "unsupported_media_type: a body must be sent as Content-Type: application/json",
    422: "invalid_field, missing_field or unknown_field (the field is named)",
    503: "store_unavailable: the store (Redis) cannot be reached",
}


def _responses(ok: int, schema: str, codes: tuple[int, ...], what: str) -> dict:
    out = {str(ok): {"description": what, "content": {"application/json": {"schema": _ref(schema)}}}}
    for code in codes + (405, 503):
        out[str(code)] = {"description": _ERRORS[code], "content": {"application/json": {"schema": _ref("Error")}}}
    return out


def _body(schema: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": _int(1, v.MAX_ENVELOPE_ID, "envelope id")}


def _schemas() -> dict:
    money = v.MAX_TOTAL_CENTS
    envelope = {
        "id": _int(1, v.MAX_ENVELOPE_ID, "envelope id"),
        "sender": _name("sender"),
        "total_cents": _CENTS,
        "count": {"type": "integer", "minimum": 1},
        "algorithm": {"type": "string", "enum": list(kernels.ALGORITHMS)},
        "mode": {"type": "string", "enum": list(v.MODES)},
        "min_cents": _CENTS,
        "max_cents": {"type": ["integer", "null"], "minimum": 1},
        "created_at": {"type": "number", "description": "unix seconds"},
        "expires_at": {"type": "number", "description": "unix seconds (the store's clock)"},
        "remaining_cents": _CENTS,
        "remaining_count": _CENTS,
        "refunded_cents": _CENTS,
        "refunded": {"type": "boolean"},
    }
    grab_row = _obj(
        {
            "user": _name("user"),
            "amount_cents": _CENTS,
            "seq": _CENTS,
            "request_id": _name("request_id"),
            "ts": {"type": "number"},
        }
    )
    entry = _obj(
        {
            "kind": {"type": "string", "enum": ["grab", "refund"]},
            "envelope_id": {"type": "integer"},
            "user": _name("grabbing user, or the sender for a refund"),
            "request_id": _name("request_id"),
            "amount_cents": _CENTS,
            "seq": {"type": ["integer", "null"], "minimum": 0},
            "ts": {"type": "number"},
        }
    )
    ledger_keys = [
        "id",
        "sender",
        "total_cents",
        "count",
        "remaining_cents",
        "remaining_count",
        "refunded_cents",
        "algorithm",
        "mode",
    ]
    return {
        "CreateEnvelope": _obj(
            {
                "sender": _name("who pays"),
                "total_cents": _int(1, money, f"the amount to split, integer cents (<= {money})"),
                "count": _int(1, v.MAX_COUNT, "number of shares"),
                "algorithm": {"type": "string", "enum": list(kernels.ALGORITHMS)},
                "mode": {
                    "type": "string",
                    "enum": list(v.MODES),
                    "description": "pre_split: split at creation; on_grab: draw each share at grab "
                    "time (online algorithms only, not line_cut)",
                },
                "min_cents": _int(0, money, "floor of every share (default 1); total >= count x min"),
                "max_cents": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": money,
                    "description": "cap of every share (default none); total <= count x max",
                },
                "expires_in_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": v.MAX_EXPIRES_IN_S,
                    "description": f"seconds until expiry (default {v.DEFAULT_EXPIRES_IN_S:g})",
                },
            },
            ["sender", "total_cents", "count", "algorithm", "mode"],
            closed=True,
        ),
        "GrabRequest": _obj(
            {
                "user": _name("who grabs (one grab per user per envelope)"),
                "request_id": _name("client's id for this request (recorded in the ledger)"),
            },
            closed=True,
        ),
        "RefundRequest": _obj({"request_id": _name("recorded in the ledger")}, [], closed=True),
        "Envelope": _obj(envelope),
        "EnvelopeState": _obj(
            {**envelope, "expired": {"type": "boolean"}, "grabs": {"type": "array", "items": grab_row}}
        ),
        "Grab": _obj(
            {
                "envelope_id": {"type": "integer"},
                "user": _name("user"),
                "request_id": _name("request_id of the grab (the first one on a repeat)"),
                "amount_cents": _CENTS,
                "seq": {"type": "integer", "minimum": 0, "description": "0-based grab position"},
                "remaining_count": _CENTS,
                "repeat": {"type": "boolean", "description": "true: this user had already grabbed"},
            }
        ),
        "Refund": _obj(
            {
                "envelope_id": {"type": "integer"},
                "sender": _name("sender"),
                "request_id": _name("request_id"),
                "refunded_cents": _CENTS,
            }
        ),
        "Ledger": _obj(
            {
                "envelopes": {"type": "array", "items": _obj({k: envelope[k] for k in ledger_keys})},
                "entries": {"type": "array", "items": entry},
                "next_after_id": {"type": ["integer", "null"], "description": "pass as after_id for the next page"},
            }
        ),
        "Health": _obj({"ok": {"type": "boolean"}, "store": {"type": "string"}}),
        "Error": _obj(
            {"error": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"}},
            ["error", "detail"],
        ),
    }


def spec() -> dict:
    """The OpenAPI document (every route the service answers)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hongbao-bench reference grab service",
            "version": "1",
            "description": "Red-envelope grabs: exact integer cents, one grab per user, "
            "refund of expired remainders exactly once, a full ledger.",
        },
        "paths": {
            "/envelopes": {
                "post": {
                    "operationId": "createEnvelope",
                    "requestBody": _body("CreateEnvelope"),
                    "responses": _responses(201, "Envelope", (400, 408, 413, 415, 422), "the new envelope"),
                }
            },
            "/envelopes/{id}": {
                "get": {
                    "operationId": "getEnvelope",
                    "parameters": [_ID],
                    "responses": _responses(200, "EnvelopeState", (404,), "state and grabs"),
                }
            },
            "/envelopes/{id}/grab": {
                "post": {
                    "operationId": "grab",
                    "parameters": [_ID],
                    "requestBody": _body("GrabRequest"),
                    "responses": _responses(
                        200,
                        "Grab",
                        (400, 404, 408, 409, 410, 413, 415, 422),
                        "the grab (repeat=true: the same grab again)",
                    ),
                }
            },
            "/envelopes/{id}/refund": {
                "post": {
                    "operationId": "refund",
                    "parameters": [_ID],
                    "requestBody": _body("RefundRequest", False),
                    "responses": _responses(
                        200, "Refund", (400, 404, 408, 409, 413, 415, 422), "the remainder went back to the sender"
                    ),
                }
            },
            "/ledger": {
                "get": {
                    "operationId": "ledger",
                    "parameters": [
                        {
                            "name": "after_id",
                            "in": "query",
                            "required": False,
                            "schema": _int(0, v.MAX_ENVELOPE_ID, "only envelopes with a larger id"),
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": _int(1, 100_000, "at most this many envelopes (default all)"),
                        },
                    ],
                    "responses": _responses(200, "Ledger", (400, 422), "every grab and refund, grouped by envelope"),
                }
            },
            "/healthz": {"get": {"operationId": "health", "responses": _responses(200, "Health", (), "alive")}},
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": {"description": "this document", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {"schemas": _schemas()},
    }
