"""An adapter for a service whose envelopes are prepared beforehand (no create during the storm):
``create_envelope`` hands out the ids listed in $PREPARED_ENVELOPES ("total:count:id,...") for the
size the kit asks, each once. Grabs and the export are the example yuan adapter's."""

from __future__ import annotations

import os

from hongbao.loadtests.adapters import Http, NewEnvelope
from hongbao.loadtests.examples.yuan_adapter import YuanAdapter


class PreparedYuanAdapter(YuanAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.ready_ids: dict[tuple[int, int], list[str]] = {}
        for item in filter(None, os.environ.get("PREPARED_ENVELOPES", "").split(",")):
            total, count, eid = item.split(":")
            self.ready_ids.setdefault((int(total), int(count)), []).append(eid)

    def create_envelope(self, http: Http, envelope: NewEnvelope) -> str:
        left = self.ready_ids.get((envelope.total_cents, envelope.count))
        if not left:
            raise RuntimeError(f"no prepared envelope of {envelope.total_cents} cents / {envelope.count} left")
        return left.pop()
