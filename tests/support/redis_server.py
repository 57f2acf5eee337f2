"""Real redis-server processes for tests, benchmarks and fault runs (never a fake).

    with redis_server() as srv:            # free loopback port, temp dir, --save "" --appendonly no
        srv.url                            # "redis://127.0.0.1:PORT/0"
        srv.kill(); srv.start()            # SIGKILL by PID, then restart on the same port and dir
    with redis_server(appendonly="yes", appendfsync="always") as srv: ...   # durable variant
    with redis_cluster(masters=3) as cluster:
        cluster.url                        # "redis+cluster://127.0.0.1:PORT" (any node)

Options are passed as ``--name value`` to redis-server (underscores become dashes). The pytest
fixtures at the bottom reach every test through ``pytest_plugins`` in tests/conftest.py: a test asks
for ``redis_url`` by name. Only processes started here are ever signalled, by their PID.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from hongbao.loadtests.procs import RedisProc, free_port

REDIS_CLI = "redis-cli"
__all__ = ["RedisServer", "free_port", "redis_server", "redis_cluster", "RedisClusterProcs"]


class RedisServer(RedisProc):
    """One redis-server on 127.0.0.1 (``save ""``, ``appendonly no`` unless ``options`` say otherwise);
    ``start`` again after ``kill``/``stop`` reuses port and dir."""

    def __init__(self, port: int, dir: Path, options: dict[str, str] | None = None) -> None:
        super().__init__(Path(dir), fsync=None, port=port, options=options)

    def client(self, **kwargs) -> redis.Redis:
        """A synchronous client (decode_responses=True unless overridden)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            decode_responses=kwargs.pop("decode_responses", True),
            socket_timeout=5,
            **kwargs,
        )


@contextlib.contextmanager
def redis_server(port: int | None = None, **options: str) -> Iterator[RedisServer]:
    """A started redis-server in a fresh temp dir; stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="hb-redis-") as tmp:
        server = None
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            server = RedisServer(port or free_port(), Path(tmp), dict(options))
            try:
                server.start()
                break
            except RuntimeError:
                if port is not None or attempt == 2:
                    raise
        try:
            yield server
        finally:
            server.kill()


@dataclass
class RedisClusterProcs:
    """A local Redis Cluster of ``masters`` master nodes (no replicas)."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes if n.pid]


@contextlib.contextmanager
def redis_cluster(masters: int = 3, timeout_s: float = 20.0) -> Iterator[RedisClusterProcs]:
    """Start ``masters`` cluster-enabled redis-servers and join them with redis-cli --cluster create."""
    with contextlib.ExitStack() as stack:
        nodes = []
        for _ in range(masters):
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hb-rcluster-")))
            node = RedisServer(
                free_port(cluster_bus=True),
                tmp,
                {"cluster-enabled": "yes", "cluster-config-file": "nodes.conf", "cluster-node-timeout": "5000"},
            )
            stack.callback(node.kill)
            nodes.append(node.start())
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        done = subprocess.run(
            [REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-800:]} {done.stderr[-800:]}")
        deadline = time.monotonic() + timeout_s
        while any("cluster_state:ok" not in n.client().execute_command("CLUSTER", "INFO") for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok after {timeout_s} s")
            time.sleep(0.1)
        yield RedisClusterProcs(nodes)


# ---- pytest fixtures (registered as a plugin by tests/conftest.py) ----


@pytest.fixture(scope="module")
def redis_proc() -> Iterator[RedisServer]:
    """One redis-server for the module."""
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_proc: RedisServer) -> str:
    """The module's redis-server, flushed for this test."""
    redis_proc.client().flushall()
    return redis_proc.url


@pytest.fixture(scope="module")
def redis_cluster_procs() -> Iterator[RedisClusterProcs]:
    """A 3-master Redis Cluster for the module."""
    with redis_cluster(3) as cluster:
        yield cluster
