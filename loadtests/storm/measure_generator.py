"""Generator CPU per grab request: the kit's storm user beside a plain Locust ``FastHttpUser`` loop,
in one run, against one reference service (``hongbao serve``, memory store) started here.

    python -m hongbao.loadtests.storm.measure_generator [--scenario countdown --scenario steady]
        [--seconds 10] [--rounds 2] [--users 50] [--open-factor 1 --open-factor 2] [--tick-ms MS]
        [--json out.json]

The arms, each one Locust process against the same service:
- ``plain``: a FastHttpUser posting the grab in a closed loop, ``--users`` users;
- ``kit closed S``: the kit's storm of scenario S with every feature it has (adapter, outcome
  names, histograms, envelope pool, hot envelopes, senders, double taps/retries/re-taps), its load
  turned into the same closed loop (``--users`` grabbers, no think time);
- ``kit open S``: the same storm in the open model at the rate the plain arm reached this round
  (a steady arrival curve), so both arms answer the same grabs/s; ``--open-factor F`` adds an arm
  at F times that rate (``kit open S xF``).
Every arm's hot envelopes open at once and are as large as the plain arm's envelope, so no arm runs
out of envelopes to grab: CPU per grab measures grabbing, not grabbers idling over a sold-out pool.
A probe in the process (``cpu_probe.py``) samples its CPU (psutil) and grab-request count at the
same instant every half second, so CPU per grab is read over the storm's middle (Locust's start-up
and the first 2 s are left out). Arms alternate for ``--rounds`` rounds so drift on a shared machine
hits every arm alike; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from hongbao.loadtests.storm import procs
from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.scenario import load, to_toml

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "plain_user.py"
PROBE = HERE / "cpu_probe.py"
#: where the probe in each arm's Locust process (cpu_probe.py) appends its samples; the probe imports
#: this name from here, so that this module imports no Locust (which would monkey-patch the caller)
PROBE_ENV = "HONGBAO_CPU_PROBE"
#: the envelope each plain user grabs from (plain_user.py), the size of every kit arm's hot envelopes
PLAIN_COUNT, PLAIN_TOTAL_CENTS = 100_000, 10_000_000


def per_grab_us(samples: list[dict], warm_s: float) -> dict:
    """CPU µs per grab request over the samples after the first grab + ``warm_s``."""
    busy = [s for s in samples if s["grab_requests"] > 0]
    if len(busy) < 2:
        raise RuntimeError("the arm sent fewer than two samples' worth of grabs")
    start = next((s for s in busy if s["t"] >= busy[0]["t"] + warm_s), busy[0])
    end = busy[-1]
    grabs = end["grab_requests"] - start["grab_requests"]
    if grabs <= 0 or end["t"] <= start["t"]:
        raise RuntimeError("no grabs in the measuring window")
    cpu = end["cpu_s"] - start["cpu_s"]
    span = end["t"] - start["t"]
    return {
        "cpu_us_per_grab": round(cpu / grabs * 1e6, 1),
        "grabs": grabs,
        "window_s": round(span, 2),
        "grabs_per_s": round(grabs / span, 1),
        "cpu_percent": round(100 * cpu / span, 1),
    }


def arm_scenario(name: str, model: str, users: int, rate: float, work: Path, tick_ms: float | None = None) -> Path:
    """Scenario ``name`` with its load turned into ``users`` looping grabbers (closed) or a steady
    ``rate`` grabs/s (open, with the dispatcher's ``tick_ms`` if given); everything else as shipped."""
    data = tomllib.loads(Path(load(name).path).read_text())
    data["load"] = {
        k: v for k, v in data.get("load", {}).items() if k in ("pre_allocated_users", "max_users", "tolerance_ms")
    }
    data["load"]["model"] = model
    if tick_ms is not None:
        data["load"]["tick_ms"] = tick_ms
    senders = data.get("users", {}).get("senders", 1)
    data["shape"] = (
        {"kind": "steady", "users": users + senders, "spawn_rate": users + senders}
        if model == "closed"
        else {"kind": "steady", "rate": rate}
    )
    # the hot envelopes open at once and are as large as the plain arm's envelope, so that no arm
    # runs out of envelopes: every grab request of every arm is a grab of an open envelope, and
    # CPU per grab measures grabbing, not grabbers idling over a sold-out pool
    data["envelopes"].update(hot_release_s=0, hot_count=PLAIN_COUNT, hot_total_cents=PLAIN_TOTAL_CENTS)
    path = work / f"{name}-{model}.toml"
    path.write_text(to_toml(data))
    return path


def run_arm(kind: str, host: str, seconds: float, users: int, work: Path, scenario: str | None = None) -> dict:
    """One Locust process: the plain loop (``kind="plain"``) or the kit's storm of ``scenario``."""
    work.mkdir(parents=True, exist_ok=True)
    probe = work / "probe.jsonl"
    probe.unlink(missing_ok=True)
    env = {**os.environ, PROBE_ENV: str(probe), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--host",
        host,
        "--loglevel",
        "WARNING",
        "--only-summary",
        "--stop-timeout",
        "2",
        "--exit-code-on-error",
        "0",
    ]
    if kind == "plain":
        cmd += ["-f", f"{PLAIN},{PROBE}", "-u", str(users), "-r", str(users), "--run-time", f"{int(seconds)}s"]
    else:
        if scenario is None:
            raise ValueError(f"arm {kind!r}: the kit's storm needs a scenario")
        sc = load(scenario)
        env.update(procs.locust_env(sc.path, seconds, sc.seed, work, f"m{int(time.time() * 1000):x}"))
        env[PROBE_ENV] = str(probe)
        cmd += ["-f", f"{procs.LOCUSTFILE},{PROBE}", "--run-time", f"{int(seconds + 10)}s"]
    with open(work / "locust.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
        try:
            proc.wait(timeout=seconds + 60)
        finally:
            procs.stop(proc)
    samples = [json.loads(line) for line in probe.read_text().splitlines() if line.strip()]
    row = {"arm": kind, **per_grab_us(samples, 2.0)}
    extra = work / "locust_extra.json"
    if " open " in f" {kind} " and extra.exists():  # the open model's own lateness: intended start -> send
        late = Histogram.from_json(json.loads(extra.read_text()).get("lateness", {})).summary_ms()
        row["late_p50_ms"], row["late_p99_ms"] = late["p50_ms"], late["p99_ms"]
    return row


def _times(factor: float) -> str:
    return "" if factor == 1 else f" x{factor:g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m hongbao.loadtests.storm.measure_generator", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--scenario", action="append", help="kit scenario(s) to measure (default: countdown, steady)")
    ap.add_argument("--seconds", type=float, default=10.0, help="each arm's storm length (default 10)")
    ap.add_argument("--rounds", type=int, default=2, help="the arms run in turn this many times (default 2)")
    ap.add_argument("--users", type=int, default=50, help="plain arm's users")
    ap.add_argument(
        "--open-factor",
        type=float,
        action="append",
        help="open-model arms at this multiple of the plain arm's grabs/s (default: 1; repeat for more)",
    )
    ap.add_argument("--tick-ms", type=float, help="the open arms' dispatcher tick (default: the scenario's)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    scenarios = args.scenario or ["countdown", "steady"]
    factors = args.open_factor or [1.0]
    if any(f <= 0 for f in factors):
        ap.error("--open-factor must be > 0")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="hb-gen-") as tmp:
        work = Path(tmp)
        service, host = procs.start_service("memory", 1, work / "service.log")
        try:
            for r in range(args.rounds):
                arms: list[tuple[str, tuple[str, str, float] | None]] = [("plain", None)]
                for name in scenarios:
                    arms.append((f"kit closed {name}", ("closed", name, 1.0)))
                    arms += [(f"kit open {name}{_times(f)}", ("open", name, f)) for f in factors]
                rate = 0.0
                for label, spec in arms:
                    folder = work / f"{label.replace(' ', '-')}-{r}"
                    folder.mkdir(parents=True, exist_ok=True)
                    path = None
                    if spec is not None:
                        path = arm_scenario(spec[1], spec[0], args.users, rate * spec[2], folder, args.tick_ms)
                    row = run_arm(label, host, args.seconds, args.users, folder, None if path is None else str(path))
                    rate = rate or row["grabs_per_s"]
                    row["round"] = r
                    rows.append(row)
                    late = (
                        f"  sent {row['late_p50_ms']:.2f}/{row['late_p99_ms']:.2f} ms late (p50/p99)"
                        if "late_p50_ms" in row
                        else ""
                    )
                    print(
                        f"{label:<24} round {r}: {row['cpu_us_per_grab']:>7.1f} µs CPU/grab  "
                        f"{row['grabs_per_s']:>8.1f} grabs/s  {row['cpu_percent']:>5.1f}% CPU{late}",
                        flush=True,
                    )
        finally:
            procs.stop(service)
    plain = [x["cpu_us_per_grab"] for x in rows if x["arm"] == "plain"]
    base = sum(plain) / len(plain)
    summary = {}
    for arm in sorted({x["arm"] for x in rows}):
        vals = [x["cpu_us_per_grab"] for x in rows if x["arm"] == arm]
        summary[arm] = {
            "cpu_us_per_grab": [min(vals), max(vals)],
            "ratio_to_plain": round(sum(vals) / len(vals) / base, 2),
        }
    load_avg = os.getloadavg()
    print(f"\nload average {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    for arm, s in summary.items():
        print(
            f"{arm:<24} {s['cpu_us_per_grab'][0]:.0f}-{s['cpu_us_per_grab'][1]:.0f} µs/grab  "
            f"{s['ratio_to_plain']:.2f}x plain"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary, "load_average": load_avg}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
