"""The one error type of the service: a 4xx (or 503) answer ``{"error": CODE, "detail": TEXT}``.

Stores and validation raise :class:`ApiError`; the ASGI app turns it into the JSON answer. A
rejected request never changes state: every check runs before the first write.
"""

from __future__ import annotations


class ApiError(Exception):
    """A rejection: HTTP ``status``, machine ``code`` (e.g. ``sold_out``), human ``detail``.

    ``field`` names the request field at fault, when there is one.
    """

    def __init__(self, status: int, code: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.allow: str | None = None  # a 405 names the method the path accepts

    def body(self) -> dict:
        out = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        return out


def invalid(field: str, detail: str) -> ApiError:
    """422 ``invalid_field``: the body parsed but ``field`` breaks a rule (detail says which)."""
    return ApiError(422, "invalid_field", detail, field)


def not_found(envelope_id: object) -> ApiError:
    return ApiError(404, "not_found", f"no envelope with id {envelope_id}", "id")


SOLD_OUT = (409, "sold_out", "every share of this envelope has been grabbed")
EXPIRED = (410, "expired", "this envelope has expired (or its remainder was refunded)")
ALREADY_REFUNDED = (409, "already_refunded", "this envelope's remainder was already refunded")
NOT_EXPIRED = (409, "not_expired", "this envelope has not expired yet: nothing can be refunded")


def rejection(kind: tuple[int, str, str], envelope_id: int) -> ApiError:
    """One of the outcome rejections above, for ``envelope_id``."""
    status, code, detail = kind
    return ApiError(status, code, f"envelope {envelope_id}: {detail}")
