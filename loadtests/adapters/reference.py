"""The default adapter: the reference grab service's own contract (README, "The API")."""

from __future__ import annotations

from hongbao.loadtests.adapters import BaseAdapter, Grab, Http, NewEnvelope, Outcome

#: (status, error field or None) -> the expected "no"
_NO: dict[tuple[int, str | None], Outcome] = {(409, "sold_out"): Outcome.SOLD_OUT, (410, "expired"): Outcome.EXPIRED}


class ReferenceAdapter(BaseAdapter):
    name = "reference"

    def ready(self, http: Http) -> bool:
        r = http.request("GET", "/healthz")
        return r.status == 200 and bool(r.json().get("ok"))

    def create_envelope(self, http: Http, envelope: NewEnvelope) -> int:
        r = http.request(
            "POST",
            "/envelopes",
            json={
                "sender": envelope.sender,
                "total_cents": envelope.total_cents,
                "count": envelope.count,
                "min_cents": envelope.min_cents,
                "algorithm": envelope.algorithm,
                "mode": envelope.mode,
                "expires_in_s": envelope.expires_in_s,
            },
        )
        if r.status != 201:
            raise RuntimeError(f"create envelope: HTTP {r.status} {r.body[:200]!r}")
        return int(r.json()["id"])

    def grab(self, http: Http, envelope_id: str | int, user: str, request_id: str) -> Grab:
        r = http.request("POST", f"/envelopes/{envelope_id}/grab", json={"user": user, "request_id": request_id})
        body = r.json() if r.status in (200, 409, 410) else {}
        if r.status == 200:
            return Grab(
                Outcome.REPEAT if body.get("repeat") else Outcome.GRANTED,
                int(body["amount_cents"]),
                seq=int(body["seq"]) if "seq" in body else None,
            )
        no = _NO.get((r.status, body.get("error")))
        return Grab(no) if no else Grab(Outcome.ERROR, detail=f"HTTP {r.status} {r.body[:200]!r}")

    def refund(self, http: Http, envelope_id: str | int, request_id: str) -> str:
        r = http.request("POST", f"/envelopes/{envelope_id}/refund", json={"request_id": request_id})
        if r.status == 200:
            return "ok"
        try:
            return str(r.json().get("error") or f"HTTP {r.status}")
        except ValueError:
            return f"HTTP {r.status}"

    def export_ledger(self, http: Http, page: int = 10_000, after_id: int = 0) -> dict:
        """The whole ledger, or the envelopes after ``after_id`` (and their entries), page by page."""
        envelopes, entries, after = [], [], after_id
        while True:
            r = http.request("GET", f"/ledger?after_id={after}&limit={page}")
            if r.status != 200:
                raise RuntimeError(f"GET /ledger: HTTP {r.status} {r.body[:200]!r}")
            part = r.json()
            envelopes += part["envelopes"]
            entries += part["entries"]
            after = part.get("next_after_id")
            if not after:
                return {"envelopes": envelopes, "entries": entries}
