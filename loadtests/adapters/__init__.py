"""The seam between the kit and a grab service: one small adapter class per service API.

A storm, its audit and the capacity search speak only to a ``BaseAdapter``; they never ask which
service is behind it. The kit does the HTTP (its keep-alive client, ``KeepAliveHttp``; during a
storm every request is timed and reported to Locust) and hands the adapter an ``Http``; the adapter
owns everything service-specific: paths, field names, units, headers and tokens, error conventions.
``ReferenceAdapter`` (the default) speaks the reference service's contract;
``hongbao.loadtests.examples.yuan_adapter`` shows one for a differently shaped API.

    hongbao storm --scenario smoke --host http://127.0.0.1:9000 --adapter mypkg.hb:MyAdapter
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import orjson

ADAPTER_ENV = "HONGBAO_ADAPTER"  # how the storm tells its Locust processes which adapter to load


class Outcome(str, Enum):  # noqa: UP042 (a StrEnum would change str(member) from 'Outcome.GRANTED' to 'granted')
    """What one grab came to, as the kit counts it."""

    GRANTED = "granted"  # a new grant of amount_cents to this user
    SOLD_OUT = "sold_out"  # nothing left: an expected "no" in a storm
    EXPIRED = "expired"  # too late: an expected "no"
    REPEAT = "repeat"  # this user's earlier grant answered again (a retry), nothing new paid
    ERROR = "error"  # anything else: counted as a failed request


@dataclass(frozen=True)
class Grab:
    """The answer to one grab. ``amount_cents`` is required for GRANTED (and REPEAT when known)."""

    outcome: Outcome
    amount_cents: int | None = None
    detail: str = ""  # for ERROR: what the service said (quoted in the run's failures)
    seq: int | None = None  # optional: the grant's position in its envelope, when the service says


@dataclass(frozen=True)
class NewEnvelope:
    """An envelope the kit wants: money in integer cents; ``algorithm``/``mode`` are hints a
    service may ignore."""

    sender: str
    total_cents: int
    count: int
    min_cents: int = 1
    expires_in_s: float = 86400.0
    algorithm: str = "double_mean"
    mode: str = "pre_split"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status and raw body (never raises on 4xx/5xx)."""

    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Http(Protocol):
    """What the kit hands an adapter: a client bound to the target's base URL."""

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Reply: ...


class BaseAdapter:
    """Maps the kit's operations onto one service's API. Subclass it; the kit builds it with no
    arguments (read tokens and options from the environment in ``__init__``)."""

    #: shown in storm.json and the report
    name = "base"

    def ready(self, http: Http) -> bool:
        """True when the service answers and can take load. Called before a storm (polled for a few
        seconds) and never during it. Default: True without asking."""
        return True

    def create_envelope(self, http: Http, envelope: NewEnvelope) -> str | int:
        """Create ``envelope`` and return its id (any str or int the service uses; the kit treats it
        as opaque and passes it back to ``grab``). Raise (any exception, with a message) on failure.
        A service without a create API may return the id of an envelope the user prepared with this
        total and count. Senders call it during the storm (timed as "create envelope")."""
        raise NotImplementedError

    def grab(self, http: Http, envelope_id: str | int, user: str, request_id: str) -> Grab:
        """``user`` grabs from ``envelope_id``; ``request_id`` is the same on a client retry.
        Return a ``Grab``: GRANTED with amount_cents, SOLD_OUT, EXPIRED, REPEAT, or ERROR with
        detail. Make exactly the HTTP calls one real client makes: they are what the storm times.
        An exception counts as ERROR."""
        raise NotImplementedError

    def refund(self, http: Http, envelope_id: str | int, request_id: str) -> str | None:
        """Optional: hand an expired envelope's remainder back to its sender (soaks refund every
        envelope once it expires, racing late grabs). Return "ok", "already_refunded",
        "not_expired" (asked a moment early: the soak asks again) or another error word; raise
        OSError when no answer came. None (the default): the service has no refund, and soaks skip
        the refund checks."""
        return None

    def can_refund(self) -> bool:
        """Does this adapter implement ``refund``?"""
        return type(self).refund is not BaseAdapter.refund

    def export_ledger(self, http: Http) -> dict | None:
        """Optional: the service's whole ledger after the storm, for the full audit, as
        ``{"envelopes": [{id, total_cents, count, remaining_cents, remaining_count, refunded_cents}],
        "entries": [{kind: "grab"|"refund", envelope_id, user, request_id, amount_cents, seq}]}``
        in integer cents. None (the default) when the service has no export: the audit then runs
        the checks the client side can make from what the grabs returned."""
        return None


def load_adapter(spec: str | None) -> BaseAdapter:
    """An adapter instance from ``module:Class`` (None or "" -> the reference adapter);
    ValueError naming the problem otherwise."""
    if not spec:
        from hongbao.loadtests.adapters.reference import ReferenceAdapter

        return ReferenceAdapter()
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--adapter must look like package.module:Class (got {spec!r})")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--adapter {spec!r}: cannot load it ({type(exc).__name__}: {exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseAdapter)):
        raise ValueError(f"--adapter {spec!r}: must name a subclass of hongbao.loadtests.adapters.BaseAdapter")
    return cls()
