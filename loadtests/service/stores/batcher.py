"""Group commit for grabs: the grabs that arrive while a script call is in flight go out together
in the next one, grouped by envelope, as ONE grab.lua call per batch on a single node, and on a
Cluster one call per envelope (its keys share one slot) with each node's calls in one pipeline.

Why: redis-py costs tens of microseconds of client CPU per command, and Redis pays a script
call's set-up per call; a batch pays both once. Atomicity is unchanged: each grab keeps its exact
semantics inside the script (dedupe, expiry, sold out, on_grab compare-and-set, ledger), in the
order the grabs arrived. A failed call (connection lost, a script error midway) fails every grab
in it: the store answers 503, clients retry and, by user dedupe, get their grab back with
repeat=true if it had in fact been applied. on_grab windows are built at send time from the
newest state this worker saw (the previous batch's answer), so one worker's batches chain
without compare-and-set misses; a group shares ONE window argument, its grabs taking
consecutive pairs.
"""

from __future__ import annotations

import asyncio

from redis.exceptions import NoScriptError

from hongbao.loadtests.service.stores.online_plan import OnlinePlan

MAX_BATCH = 256  # grabs per flush
MAX_WINDOW = 512  # on_grab candidate pairs per group (one packed argument)
NO_WINDOW = ("", "")


def script_keys(envelope_id: int) -> list[str]:
    """grab.lua's four keys of one envelope (meta, users, shares, ledger; one slot: ``{env:ID}``)."""
    tag = f"hb:{{env:{envelope_id}}}:"
    return [tag + "meta", tag + "users", tag + "shares", tag + "ledger"]


def window_size(grabs: int) -> int:
    """Pairs to offer a group of ``grabs``: twice as many, so that grabs other workers applied
    since this one last looked still leave a matching pair further along the same chain."""
    return min(MAX_WINDOW, max(4, 2 * grabs))


def call_args(groups: list[tuple[int, list | tuple, list[tuple[str, str]]]]) -> tuple[list[str], list]:
    """KEYS and ARGV of one grab.lua call for groups of (envelope_id, window, [(user, request_id)])."""
    keys: list[str] = []
    args: list = []
    for envelope_id, window, grabs in groups:
        keys += script_keys(envelope_id)
        args += (len(grabs), window[0], window[1])
        for user, request_id in grabs:
            args += (user, request_id)
    return keys, args


def parse_state(state: str) -> tuple[int, int, int]:
    """A group's state after the call: (remaining_cents, remaining_count, seq)."""
    cents, left, seq = state.split("|")
    return int(cents), int(left), int(seq)


class GrabBatcher:
    """``await batcher.grab(envelope_id, user, request_id)`` -> (entry, group state) of grab.lua."""

    def __init__(
        self,
        client,
        plans: dict[int, OnlinePlan],
        script: tuple[str, str],
        *,
        cluster: bool,
        max_batch: int = MAX_BATCH,
    ):
        self.client = client
        self.plans = plans  # on_grab envelope -> chain; observed here, windows built here
        self.source, self.sha = script
        self.cluster = cluster
        self.max_batch = max_batch
        self._queue: list[tuple] = []
        self._flusher: asyncio.Task | None = None

    async def grab(self, envelope_id: int, user: str, request_id: str) -> tuple[str, str]:
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((envelope_id, user, request_id, fut))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                groups: dict[int, list] = {}
                for item in batch:
                    groups.setdefault(item[0], []).append(item)
                calls = [[g] for g in groups.values()] if self.cluster else [list(groups.values())]
                try:
                    replies = await self._send([self._encode(call) for call in calls])
                except Exception as exc:  # noqa: BLE001 - the whole batch failed: tell every caller
                    _fail(batch, exc)
                    continue
                for call, reply in zip(calls, replies, strict=True):
                    if isinstance(reply, Exception):
                        _fail([item for group in call for item in group], reply)
                    else:
                        self._deliver(call, reply)
        finally:
            self._flusher = None

    def _encode(self, call: list[list[tuple]]) -> tuple[list[str], list]:
        groups = []
        for items in call:
            plan = self.plans.get(items[0][0])
            window = plan.window(window_size(len(items))) if plan is not None else NO_WINDOW
            groups.append((items[0][0], window, [(user, request_id) for _, user, request_id, _ in items]))
        return call_args(groups)

    def _deliver(self, call: list[list[tuple]], reply: list[str]) -> None:
        at = 0
        for items in call:
            n = len(items)
            state = reply[at + n]
            plan = self.plans.get(items[0][0])
            if plan is not None and state:  # the next batch's window starts from here
                cents, _, seq = parse_state(state)
                plan.observe(seq, cents)
            for item, entry in zip(items, reply[at : at + n], strict=True):
                if not item[3].done():  # else the caller went away (cancelled)
                    item[3].set_result((entry, state))
            at += n + 1

    async def _send(self, commands: list[tuple[list[str], list]]) -> list:
        """One reply (or the exception it raised) per command; a Cluster pipeline is split per
        node by redis-py, which also follows MOVED/ASK for the commands that got one."""
        if not self.cluster:
            ((keys, args),) = commands
            try:
                return [await self.client.evalsha(self.sha, len(keys), *keys, *args)]
            except NoScriptError:  # first use on this server, or after a restart: send the source
                return [await self.client.eval(self.source, len(keys), *keys, *args)]
        pipe = self.client.pipeline(transaction=False)
        for keys, args in commands:
            # execute_command: redis-py 8.1 blocks the evalsha() method on cluster pipelines
            # (redis-py issue 2914) though it routes EVALSHA by its keys like any keyed command
            pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        replies = await pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):  # a node that restarted since open()
                keys, args = commands[i]
                try:
                    replies[i] = await self.client.eval(self.source, len(keys), *keys, *args)
                except Exception as exc:  # noqa: BLE001 - handed to the waiting callers
                    replies[i] = exc
        return replies


def _fail(items: list[tuple], exc: BaseException) -> None:
    for item in items:
        if not item[3].done():
            item[3].set_exception(exc)
