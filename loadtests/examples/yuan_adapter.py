"""The adapter for ``yuan_service`` (its API: that module's docstring). Everything specific to that
API lives here: paths, field names, yuan strings <-> integer cents, the bearer token (from
$YUAN_TOKEN), and errors that come as HTTP 200 with a code in the body.

    hongbao storm --scenario smoke --host http://127.0.0.1:9000 \\
        --adapter hongbao.loadtests.examples.yuan_adapter:YuanAdapter
"""

from __future__ import annotations

import os
from decimal import Decimal

from hongbao.loadtests.adapters import BaseAdapter, Grab, Http, NewEnvelope, Outcome

NO = {2001: Outcome.SOLD_OUT, 2002: Outcome.EXPIRED}


def to_yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def to_cents(yuan: str) -> int:
    cents = Decimal(yuan) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {yuan!r} is not a whole number of fen")
    return int(cents)


class YuanAdapter(BaseAdapter):
    name = "yuan-example"

    def __init__(self) -> None:
        self.auth = {"Authorization": f"Bearer {os.environ.get('YUAN_TOKEN', 'yuan-demo-token')}"}

    def call(self, http: Http, method: str, path: str, body: dict | None = None) -> dict:
        r = http.request(method, "/api/v2" + path, json=body, headers=self.auth)
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} {r.body[:200]!r}")
        return r.json()

    def ready(self, http: Http) -> bool:
        return self.call(http, "GET", "/ping")["code"] == 0

    def create_envelope(self, http: Http, envelope: NewEnvelope) -> str:
        answer = self.call(
            http,
            "POST",
            "/packets",
            {
                "senderId": envelope.sender,
                "amountYuan": to_yuan(envelope.total_cents),
                "num": envelope.count,
                "minYuan": to_yuan(envelope.min_cents),
                "ttlSec": envelope.expires_in_s,
            },
        )
        if answer["code"] != 0:
            raise RuntimeError(f"create: code {answer['code']} {answer.get('msg')}")
        return answer["data"]["packetId"]

    def grab(self, http: Http, envelope_id: str | int, user: str, request_id: str) -> Grab:
        answer = self.call(http, "POST", f"/packets/{envelope_id}/open", {"uid": user, "reqNo": request_id})
        code, data = answer["code"], answer.get("data") or {}
        if code == 0:
            return Grab(Outcome.GRANTED, to_cents(data["amountYuan"]))
        if code == 2003:
            return Grab(Outcome.REPEAT, to_cents(data["amountYuan"]))
        return Grab(NO[code]) if code in NO else Grab(Outcome.ERROR, detail=f"code {code} {answer.get('msg')}")

    def export_ledger(self, http: Http) -> dict | None:
        answer = self.call(http, "GET", "/export")
        if answer["code"] == 4040:
            return None  # this deployment has no export: client-side audit
        data = answer["data"]
        return {
            "envelopes": [
                {
                    "id": p["packetId"],
                    "total_cents": to_cents(p["amountYuan"]),
                    "count": p["num"],
                    "remaining_cents": to_cents(p["leftYuan"]),
                    "remaining_count": p["leftNum"],
                    "refunded_cents": 0,
                }
                for p in data["packets"]
            ],
            "entries": [
                {
                    "kind": "grab",
                    "envelope_id": r["packetId"],
                    "user": r["uid"],
                    "request_id": r["reqNo"],
                    "amount_cents": to_cents(r["amountYuan"]),
                    "seq": r["idx"],
                }
                for r in data["records"]
            ],
        }
