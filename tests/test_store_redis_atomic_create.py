"""Creating an envelope on Redis is all or nothing: a redis-server crash at ANY byte of
the create's append-only-file record, replayed on restart, leaves either the whole envelope (index
entry, meta, every share) or no trace of it - never an index entry without its envelope."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from hongbao.loadtests.service.stores.redis_store import INDEX_KEY, RedisStore, keys
from hongbao.loadtests.service.validation import EnvelopeSpec
from tests.support.redis_server import RedisServer, free_port, redis_server

pytestmark = pytest.mark.redis

COUNT = 6


def _create(url: str) -> int:
    async def main() -> int:
        store = RedisStore(url, seed=0)
        await store.open()
        try:
            env = await store.create(EnvelopeSpec("boss", 600, COUNT, "line_cut", "pre_split", 1, None, 60.0))
        finally:
            await store.close()
        return env["id"]

    return asyncio.run(main())


def _state(server: RedisServer, envelope_id: int) -> tuple[bool, bool, int]:
    c = server.client()
    k = keys(envelope_id)
    return c.zscore(INDEX_KEY, str(envelope_id)) is not None, c.exists(k["meta"]) == 1, c.llen(k["shares"])


def _incr_file(data_dir: Path) -> Path:
    files = sorted((data_dir / "appendonlydir").glob("*.incr.aof"))
    assert len(files) == 1, f"expected one incremental AOF file, found {files}"
    return files[0]


def test_a_crash_anywhere_in_a_create_leaves_the_whole_envelope_or_nothing(tmp_path):
    with redis_server(appendonly="yes", appendfsync="always") as srv:
        first = _create(srv.url)  # a complete envelope before the one we cut
        start = _incr_file(srv.dir).stat().st_size  # appendfsync always: on disk at the reply
        second = _create(srv.url)
        srv.kill()
        aof = _incr_file(srv.dir).read_bytes()
        aof_dir = srv.dir / "appendonlydir"
        manifest = sorted(aof_dir.iterdir())
        saved = {p.name: p.read_bytes() for p in manifest}
    end = len(aof)
    cuts = sorted(set(range(start, end + 1, 23)) | {end - 1, end})
    outcomes = set()
    for cut in cuts:
        data_dir = tmp_path / f"cut-{cut}"
        (data_dir / "appendonlydir").mkdir(parents=True)
        for name, blob in saved.items():
            blob = blob[:cut] if name.endswith(".incr.aof") else blob
            (data_dir / "appendonlydir" / name).write_bytes(blob)
        server = RedisServer(
            free_port(),
            data_dir,
            {"save": "", "appendonly": "yes", "appendfsync": "always", "aof-load-truncated": "yes"},
        )
        try:
            server.start()
            assert _state(server, first) == (True, True, COUNT), f"cut at {cut}: the first envelope changed"
            state = _state(server, second)
        finally:
            server.kill()
            shutil.rmtree(data_dir, ignore_errors=True)
        assert state in ((True, True, COUNT), (False, False, 0)), (
            f"AOF cut at byte {cut} of {end}: partial envelope (indexed, meta, shares) = {state}"
        )
        outcomes.add(state)
    assert outcomes == {(True, True, COUNT), (False, False, 0)}, "the cuts never hit both sides of the commit"
