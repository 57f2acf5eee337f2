"""A small grab service shaped unlike the kit's reference contract, to be stormed through
``yuan_adapter.YuanAdapter``. In memory, one process, its own double-mean allocator.

    python -m hongbao.loadtests.examples.yuan_service --port 9000 [--token T] [--no-export]
        [--journal PATH] [--bug double-pay|lost-cent|lose-acks]

Every request needs ``Authorization: Bearer <token>``. Every answer is HTTP 200 with
``{"code": 0, "data": ...}`` or ``{"code": N, "msg": ...}``. Amounts are yuan strings ("3.21").

    GET  /api/v2/ping                          -> {"code": 0}
    POST /api/v2/packets {senderId, amountYuan, num, minYuan?, ttlSec?} -> data.packetId ("P000001")
    POST /api/v2/packets/{packetId}/open {uid, reqNo} -> data {amountYuan}
         codes: 2001 finished (sold out), 2002 expired, 2003 already opened (data.amountYuan),
         2004 no such packet, 4001 bad token, 4002 bad request
    GET  /api/v2/export                        -> data {packets: [...], records: [...]}
         (code 4040 with --no-export)
    GET  /metrics                              -> Prometheus text (opens by result, latency, process CPU)

In memory by default (a restart forgets everything). ``--journal PATH`` makes it durable: every
create and every open is appended to PATH as a JSON line and fsynced before the answer goes out,
and the journal is replayed at start (a torn last line, from a crash mid-write, is dropped: it was
never acknowledged).

``--bug`` plants a fault for the audit to catch: ``double-pay`` pays a retry (same uid and reqNo)
a second share; ``lost-cent`` pays the last share of a packet one cent short; ``lose-acks``
answers before the journal has the open, writing the journal only every LAZY_FLUSH_S, so a crash
loses opens that were already acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from decimal import Decimal, InvalidOperation

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

OPENS = Counter("yuan_opens_total", "packet opens by result", ["result"])
LATENCY = Histogram("yuan_open_seconds", "time to answer an open")


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cents(text, field: str) -> int:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"{field} must be a yuan amount like '3.21'") from None
    if value != value.quantize(Decimal("0.01")) or value <= 0:
        raise ValueError(f"{field} must be > 0 with at most 2 decimals")
    return int(value * 100)


LAZY_FLUSH_S = 2.0
BUGS = ("double-pay", "lost-cent", "lose-acks")


class Journal:
    """An append-only file of JSON lines: ``write`` returns once the line is on disk (fsync), or,
    ``lazy``, at once (the planted lose-acks bug: a thread writes every LAZY_FLUSH_S)."""

    def __init__(self, path: str, lazy: bool = False) -> None:
        self.path, self.lazy, self._lock = path, lazy, threading.Lock()
        self._pending: list[bytes] = []  # lazy: lines the flusher has not written yet
        self._file = open(path, "ab")
        if lazy:
            threading.Thread(target=self._flusher, name="journal flusher", daemon=True).start()

    def replay(self) -> list[dict]:
        """Every whole line written so far; a torn last line is dropped."""
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                break  # the torn tail of a crash: never acknowledged
        return out

    def write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        if self.lazy:
            with self._lock:
                self._pending.append(line)
            return
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _flusher(self) -> None:
        while True:
            time.sleep(LAZY_FLUSH_S)
            with self._lock:
                lines, self._pending = self._pending, []
            if lines:
                self._file.write(b"".join(lines))
                self._file.flush()
                os.fsync(self._file.fileno())


class Packets:
    """The books: packets, and one record per open, in integer cents inside; written to
    ``journal`` (when given) before an answer goes out, and rebuilt from it at start."""

    def __init__(self, seed: int, bug: str | None, journal: Journal | None = None) -> None:
        self.seed, self.bug = seed, bug
        self.packets: dict[str, dict] = {}  # packetId -> the packet
        self.records: list[dict] = []  # one per open, in order
        self.journal: Journal | None = None
        if journal is not None:
            for record in journal.replay():
                self._apply(record)
            self.journal = journal

    def _apply(self, r: dict) -> None:
        """One journal record: a packet created ("c") or opened ("o")."""
        if r["t"] == "c":
            self.packets[r["pid"]] = {
                "packetId": r["pid"],
                "senderId": r["sender"],
                "total": r["total"],
                "num": r["num"],
                "min": r["min"],
                "left": r["total"],
                "leftNum": r["num"],
                "opened": {},
                "expires": r["expires"],
                "rng": random.Random(f"{self.seed}:{r['pid']}"),
            }
        else:
            self._book(self.packets[r["pid"]], r["uid"], r["reqNo"], r["amount"])

    def _book(self, p: dict, uid: str, req_no: str, amount: int) -> None:
        p["left"] -= amount
        p["leftNum"] -= 1
        p["opened"][uid] = (amount, req_no)
        self.records.append(
            {
                "packetId": p["packetId"],
                "uid": uid,
                "reqNo": req_no,
                "amountYuan": yuan(amount),
                "idx": p["num"] - p["leftNum"],
            }
        )

    def create(self, body: dict) -> dict:
        total, num = cents(body.get("amountYuan"), "amountYuan"), int(body.get("num", 0))
        low = cents(body.get("minYuan", "0.01"), "minYuan")
        if not 1 <= num <= 100_000 or total < num * low:
            raise ValueError("num must be 1..100000 and amountYuan >= num x minYuan")
        record = {
            "t": "c",
            "pid": f"P{len(self.packets) + 1:06d}",
            "sender": str(body.get("senderId", "")),
            "total": total,
            "num": num,
            "min": low,
            "expires": time.time() + float(body.get("ttlSec", 86400)),
        }
        self._apply(record)
        if self.journal is not None:
            self.journal.write(record)
        return {"packetId": record["pid"]}

    def open(self, pid: str, uid: str, req_no: str) -> tuple[int, dict]:
        p = self.packets.get(pid)
        if p is None:
            return 2004, {}
        first = p["opened"].get(uid)
        if first is not None and not (self.bug == "double-pay" and first[1] == req_no):
            return 2003, {"amountYuan": yuan(first[0])}
        if time.time() > p["expires"]:
            return 2002, {}
        if p["leftNum"] == 0:
            return 2001, {}
        if p["leftNum"] == 1:  # the last one takes the rest
            amount = p["left"]
            if self.bug == "lost-cent" and amount > p["min"]:
                amount, p["left"] = amount - 1, p["left"] - 1  # the planted bug: a cent vanishes
        else:  # double mean: uniform in [min, 2 x mean of what is left)
            hi = max(p["min"], 2 * p["left"] // p["leftNum"] - 1)
            amount = min(p["rng"].randint(p["min"], hi), p["left"] - p["min"] * (p["leftNum"] - 1))
        self._book(p, uid, req_no, amount)
        if self.journal is not None:
            self.journal.write({"t": "o", "pid": pid, "uid": uid, "reqNo": req_no, "amount": amount})
        return 0, {"amountYuan": yuan(amount)}

    def export(self) -> dict:
        return {
            "packets": [
                {
                    "packetId": p["packetId"],
                    "amountYuan": yuan(p["total"]),
                    "num": p["num"],
                    "leftYuan": yuan(p["left"]),
                    "leftNum": p["leftNum"],
                }
                for p in self.packets.values()
            ],
            "records": self.records,
        }


def create_app(
    token: str, seed: int = 1, export: bool = True, bug: str | None = None, journal: str | None = None
) -> Starlette:
    books = Packets(seed, bug, Journal(journal, lazy=bug == "lose-acks") if journal else None)

    def answer(code: int, data=None, msg: str = "") -> JSONResponse:
        return JSONResponse({"code": code, "data": data} if code == 0 else {"code": code, "msg": msg, "data": data})

    def wrap(handler):
        async def endpoint(request: Request):
            if request.headers.get("authorization") != f"Bearer {token}":
                return answer(4001, msg="missing or wrong bearer token")
            try:
                return await handler(request)
            except (ValueError, TypeError, KeyError) as e:
                return answer(4002, msg=str(e))

        return endpoint

    async def ping(request):
        return answer(0, {})

    async def create(request):
        return answer(0, books.create(await request.json()))

    async def open_(request):
        t0 = time.perf_counter()
        body = await request.json()
        code, data = books.open(request.path_params["pid"], str(body["uid"]), str(body["reqNo"]))
        OPENS.labels(str(code)).inc()
        LATENCY.observe(time.perf_counter() - t0)
        return answer(
            code,
            data,
            {2001: "finished", 2002: "expired", 2003: "already opened", 2004: "no such packet"}.get(code, ""),
        )

    async def export_(request):
        return answer(0, books.export()) if export else answer(4040, msg="export not supported")

    async def metrics(request):
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/api/v2/ping", wrap(ping)),
            Route("/api/v2/packets", wrap(create), methods=["POST"]),
            Route("/api/v2/packets/{pid}/open", wrap(open_), methods=["POST"]),
            Route("/api/v2/export", wrap(export_)),
            Route("/metrics", metrics),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m hongbao.loadtests.examples.yuan_service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--token", default="yuan-demo-token")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-export", action="store_true", help="no ledger export (code 4040)")
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="durable: append every create and open to PATH, fsynced before answering; replayed at start",
    )
    parser.add_argument("--bug", choices=BUGS, help="plant a fault for the audit")
    args = parser.parse_args(argv)
    if args.bug == "lose-acks" and not args.journal:
        parser.error("--bug lose-acks needs --journal (it answers before the journal has the open)")
    uvicorn.run(
        create_app(args.token, args.seed, not args.no_export, args.bug, args.journal),
        host=args.host,
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
