"""Server CPU time per landmark message: this checkout against a git revision.

Why: with landmarks in, a frame's own stages are ~0.2 ms of Python and the server's one
event-loop thread does everything else a message costs (WebSocket framing, JSON, the send),
so CPU per message sets capacity. Throughput at saturation is a poor measure on a shared
2-core machine (overload dynamics and neighbours move it by ±20 %); CPU seconds per answered
message at a steady, unsaturated load are steadier, and rounds alternate between the two
servers so drift hits both alike.

The baseline runs from a ``git worktree`` of ``--baseline`` (default ``HEAD``: uncommitted
changes against the last commit), put first on ``PYTHONPATH``. Each round starts
``signify-graph serve pipelines/landmarks.yaml``, runs this checkout's ``signify-graph
loadtest`` against it with real landmarks (the same load for both), and reads the server's CPU
time (``/proc/PID/stat``) and its answered-frames counter 8 s and 20 s into the load.

Run: ``python benchmarks/message_cost.py [--baseline REV] [--rounds 6] [--clients 60]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT, HEALTH = 18765, 18080
METRICS = f"http://127.0.0.1:{HEALTH}/metrics"


def answered() -> float:
    with urllib.request.urlopen(METRICS, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("signify_frames_answered_total"):
                return float(line.split()[1])
    raise RuntimeError("no signify_frames_answered_total in /metrics")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_ready(server: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{HEALTH}/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def one_round(source: Path, clients: int) -> dict[str, float]:
    """One server from ``source`` under one load; its CPU µs per answered message."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{source}:{source / 'plugins'}",
        "PORT": str(PORT),
        "HEALTH_PORT": str(HEALTH),
        "WEBSOCKET_HOST": "127.0.0.1",
        "SIGNIFY_MAX_SESSIONS": "1000",
        "SIGNIFY_RATE_LIMIT": "100",
        "SIGNIFY_RATE_BURST": "50",
        # One process: its CPU is the server's (workers would leave the supervisor's here).
        "SIGNIFY_PROCESSES": "1",
    }
    # -P: without it ``-m`` puts the working directory (this checkout) first on sys.path, ahead
    # of PYTHONPATH, and the "baseline" would run this checkout's engine.
    serve = [sys.executable, "-P", "-m", "signify_graph.cli", "serve", "pipelines/landmarks.yaml"]
    serve += ["--set", "emit.min_interval_ms=0", "--set", "emit.heartbeat_ms=1"]
    server = subprocess.Popen(serve, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_ready(server)
        load = [sys.executable, "-m", "signify_graph.cli", "loadtest", f"ws://127.0.0.1:{PORT}/"]
        load += ["--metrics", METRICS, "--clients", str(clients), "--fps", "15"]
        load += ["--duration", "22", "--ramp", "3", "--json"]
        load += ["--source", "training/data/roboflow_valid.npz"]
        generator = subprocess.Popen(load, cwd=ROOT, stdout=subprocess.DEVNULL)
        time.sleep(8)
        cpu0, n0 = cpu_seconds(server.pid), answered()
        time.sleep(12)
        cpu1, n1 = cpu_seconds(server.pid), answered()
        generator.wait()
    finally:
        server.terminate()
        server.wait()
    return {"us_per_message": 1e6 * (cpu1 - cpu0) / (n1 - n0), "messages_per_s": (n1 - n0) / 12}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(sources: dict[str, Path], rounds: int, clients: int) -> dict[str, list[float]]:
    costs: dict[str, list[float]] = {name: [] for name in sources}
    names = list(sources)
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            result = one_round(sources[name], clients)
            costs[name].append(result["us_per_message"])
            print(
                f"round {index + 1} {name:10s} {result['us_per_message']:7.1f} µs/message "
                f"at {result['messages_per_s']:.0f} messages/s",
                file=sys.stderr,
                flush=True,
            )
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        worktree = Path(scratch) / "baseline"
        git = ["git", "-C", str(ROOT)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", "-q", str(worktree), args.baseline], check=True
        )
        try:
            costs = measure({"baseline": worktree, "this": ROOT}, args.rounds, args.clients)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(worktree)], check=True)
    summary = {
        name: {"median": statistics.median(c), "p90": quantile(c, 0.9), "rounds": c}
        for name, c in costs.items()
    }
    ratio = summary["this"]["median"] / summary["baseline"]["median"]
    print(
        f"{args.clients} landmark clients × 15 fps: server CPU µs per answered message, "
        f"{args.rounds} alternating rounds (baseline {args.baseline})"
    )
    for name, s in summary.items():
        print(
            f"  {name:8s} median {s['median']:6.1f}  p90 {s['p90']:6.1f}  "
            f"range {min(s['rounds']):.1f}–{max(s['rounds']):.1f}"
        )
    print(f"  this / baseline (medians): {ratio:.2f}")
    if args.json is not None:
        figures = {"baseline": args.baseline, "clients": args.clients, "ratio": ratio}
        args.json.write_text(json.dumps({**figures, "servers": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
