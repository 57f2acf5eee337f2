"""``hongbao worker``: a Locust worker of a fleet storm on this machine. It needs only the
installed kit: the master (``hongbao storm --master`` or ``hongbao capacity --master``) sends the
scenario, the adapter spec and the kit version it runs; a worker of another version is refused.
Exit codes: 0 every storm ran, 2 UNUSABLE (refused, no master, Locust failed)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile

from hongbao.loadtests.exitcodes import Exit

HELP = "a Locust worker of a fleet storm: joins hongbao storm/capacity --master HOST:PORT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  hongbao worker --master 10.0.0.5:5557\n"
        "  hongbao worker --master 10.0.0.5:5557 --processes 4 --storms 0\n"
        "exit codes: 0 OK, 2 UNUSABLE (refused by the master, no master, Locust failed)"
    )
    parser.add_argument(
        "--master",
        required=True,
        metavar="HOST:PORT",
        help="the fleet's master (hongbao storm ... --master --bind ADDR:PORT); port 5557 if omitted",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="Locust worker processes on this machine (default 1; about one per core)",
    )
    parser.add_argument(
        "--name", metavar="NAME", help="how storm.json and the report name this machine (default: its hostname)"
    )
    parser.add_argument(
        "--storms",
        type=int,
        default=1,
        metavar="N",
        help="storms to serve before exiting (default 1; 0: until stopped, e.g. for "
        "hongbao capacity, which runs one storm per ramp)",
    )


def locust_command(host: str, port: int, processes: int) -> list[str]:
    """A Locust worker that downloads its locustfile (the fleet's) from the master."""
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "--worker",
        "-f",
        "-",
        "--master-host",
        host,
        "--master-port",
        str(port),
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    return cmd + (["--processes", str(processes)] if processes > 1 else [])


def worker_env(name: str | None, tmp: str) -> dict:
    """This machine's environment for the worker, without the master-side variables a shell may hold;
    its own temp folder (the downloaded locustfile and scenario) and the current folder importable
    (a user's adapter module)."""
    from hongbao.loadtests.storm import fleet

    env = {k: v for k, v in os.environ.items() if not (k.startswith("HONGBAO_") or k.startswith("LOCUST_"))}
    env.update(
        {
            "TMPDIR": tmp,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
        }
    )
    if name:
        env[fleet.NAME_ENV] = name
    return env


def run(args: argparse.Namespace) -> int:
    from hongbao.loadtests.storm import fleet

    try:
        host, port = fleet.parse_address(args.master, "--master", default_host="")
        if not host:
            raise ValueError(f"--master must name the master's host (got {args.master!r})")
        try:
            socket.getaddrinfo(host, port)
        except socket.gaierror as e:
            raise ValueError(f"--master {host}: cannot resolve it ({e.strerror})") from None
        if args.processes < 1 or args.storms < 0:
            raise ValueError(f"--processes must be >= 1 and --storms >= 0 (got {args.processes}, {args.storms})")
    except ValueError as e:
        print(f"hongbao worker: {e}", file=sys.stderr)
        return int(Exit.UNUSABLE)
    served = 0
    print(
        f"hongbao worker: hongbao-bench {fleet.kit_version()}, {args.processes} process(es), "
        f"joining the master at {host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    while args.storms == 0 or served < args.storms:
        with tempfile.TemporaryDirectory(prefix="hongbao-worker-") as tmp:
            proc = subprocess.Popen(locust_command(host, port, args.processes), env=worker_env(args.name, tmp))
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
                proc.wait(timeout=15)
                return int(Exit.OK)
        if code != 0:
            print(f"hongbao worker: Locust exited with code {code} after {served} storm(s)", file=sys.stderr)
            return int(Exit.UNUSABLE)
        served += 1
    return int(Exit.OK)
