"""The ``Http`` an adapter gets inside a Locust user: every request goes through the user's
FastHttp client (so Locust times it and fires its request event), but the event is held until the
adapter has said what the operation came to; then the last request is named after the outcome
(``grab``, ``grab sold_out``, ...) and marked success or failure. The storm's own recording
(loadtests/storm/recorder.py) reads the grant or the created envelope from the event's context.
"""
from __future__ import annotations

from typing import Any

from hongbao.loadtests.adapters import Reply


class LocustHttp:
    """One operation's requests through a Locust client; ``finish`` reports them."""

    def __init__(self, client, name: str) -> None:
        self.client, self.name, self.responses = client, name, []

    def request(self, method: str, path: str, *, json: Any = None,
                headers: dict[str, str] | None = None) -> Reply:
        r = self.client.request(method, path, json=json, headers=headers, name=self.name, catch_response=True)
        r.__enter__()
        self.responses.append(r)
        try:
            body = r.content or b""
        except Exception:  # noqa: BLE001 - a broken connection: status 0, the exception is reported
            body = b""
        return Reply(int(r.status_code or 0), body)

    def finish(self, name: str, failure: str | None = None, **context: Any) -> None:
        """Report every request: the last one under ``name`` with ``context`` (e.g. grant=...),
        a failure with ``failure`` as its message (or the transport's own exception)."""
        for i, r in enumerate(self.responses):
            last = i == len(self.responses) - 1
            if last:
                r.request_meta["name"] = name
                r.request_meta["context"] = {**(r.request_meta.get("context") or {}), **context}
            transport = r.request_meta.get("exception")
            if last and failure is not None:
                r.failure(transport if transport and r.status_code == 0 else failure)
            else:
                r.success()
            r.__exit__(None, None, None)
        self.responses = []
