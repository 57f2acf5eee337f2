"""Hosts for fleet tests: network namespaces on a private bridge when the tests run as root, else
loopback addresses (127.0.0.2, 127.0.0.3, ...) on this machine, said so in ``mode``
(HONGBAO_TEST_HOSTS=loopback chooses loopback as root too).

    with make_hosts(["svc", "master", "w1", "w2"]) as hosts:
        hosts.mode                         # "netns" or "loopback"
        hosts.address("svc")               # "10.213.N.2" inside its namespace, or "127.0.0.2"
        proc = hosts.popen("svc", cmd, log_path)      # cmd runs on that host

Namespaces: one bridge in this machine's namespace with no address of its own, so the machine
neither routes into the bridge nor out of it; one veth pair per host with an address of a
10.213.N.0/24 subnet that nothing on the machine uses (checked), and no default route: traffic
stays between the namespaces. Everything started through ``popen`` is ended by PID at exit, then
the namespaces and the bridge are removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from hongbao.loadtests.storm import procs


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _free_subnet() -> str:
    """10.213.N (no trailing dot) that no address or route of this machine mentions."""
    used = (
        subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
        + subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    )
    start = os.getpid() % 200 + 20
    for n in list(range(start, 255)) + list(range(1, start)):
        if f"10.213.{n}." not in used:
            return f"10.213.{n}"
    raise RuntimeError("no free 10.213.N.0/24 subnet on this machine")


class Hosts:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.tag = f"hb{os.getpid() % 100000}"
        forced = os.environ.get("HONGBAO_TEST_HOSTS")  # "loopback": try the fallback as root too
        self.mode = "netns" if os.geteuid() == 0 and shutil.which("ip") and forced != "loopback" else "loopback"
        self.addresses: dict[str, str] = {}
        self.started: list[subprocess.Popen] = []
        self.made_netns: list[str] = []
        self.bridge: str | None = None

    def netns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def _make_netns(self) -> None:
        subnet = _free_subnet()
        self.bridge = f"{self.tag}br"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        for i, name in enumerate(self.names):
            ns, host_end, ns_end = self.netns(name), f"{self.tag}h{i}", f"{self.tag}n{i}"
            _ip("netns", "add", ns)
            self.made_netns.append(ns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            _ip("link", "set", host_end, "master", self.bridge)
            _ip("link", "set", host_end, "up")
            _ip("link", "set", ns_end, "netns", ns)
            addr = f"{subnet}.{i + 2}"
            _ip("netns", "exec", ns, "ip", "addr", "add", f"{addr}/24", "dev", ns_end)
            _ip("netns", "exec", ns, "ip", "link", "set", ns_end, "up")
            _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
            self.addresses[name] = addr

    def __enter__(self) -> Hosts:
        if self.mode == "netns":
            try:
                self._make_netns()
            except (subprocess.CalledProcessError, OSError):  # no CAP_NET_ADMIN here: loopback instead
                self._remove_netns()
                self.mode = "loopback"
        if self.mode == "loopback":
            self.addresses = {name: f"127.0.0.{i + 2}" for i, name in enumerate(self.names)}
        return self

    def address(self, name: str) -> str:
        return self.addresses[name]

    def command(self, name: str, cmd: list[str]) -> list[str]:
        """``cmd`` as run on host ``name`` (inside its namespace)."""
        return (["ip", "netns", "exec", self.netns(name)] if self.mode == "netns" else []) + cmd

    def popen(
        self, name: str, cmd: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None
    ) -> subprocess.Popen:
        """``cmd`` on host ``name``, output to ``log_path``; ended by PID at exit."""
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(self.command(name, cmd), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.started.append(proc)
        return proc

    def _remove_netns(self) -> None:
        for ns in self.made_netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.made_netns = []
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=20)
            self.bridge = None

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.started):
            procs.stop(proc)
        self._remove_netns()


@contextlib.contextmanager
def make_hosts(names: list[str]) -> Iterator[Hosts]:
    with Hosts(names) as hosts:
        yield hosts
