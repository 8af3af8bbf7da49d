"""Scale-out figures for BENCHMARKS.md (issue #21): landmark capacity at 15 fps with p99 ≤ 50 ms
for ``serve --workers 1`` and ``--workers 2`` in the same run, and the latency HAProxy adds.

Real processes on 127.0.0.1: ``signify-graph serve`` (landmarks.yaml, every frame answered) and
``signify-graph loadtest`` (real landmarks, each tagged with an id the server echoes). The load
generator is pinned with ``taskset`` to the last CPU; on a machine with three or more CPUs the
server gets the others, on two it is not pinned (the workers then share the generator's core:
the figures say so).

Capacity: the most clients at 15 fps for which p99 ≤ 50 ms, ≥ 99.9 % of the frames answered
(99 % for images: a session's first frames wait for MediaPipe's first detection) and no client
failed; found by growing the count by half until a trial fails, then halving the gap
down to ``--resolution``. HAProxy: ``--lb-clients`` clients straight to one replica and through
HAProxy (``deploy/haproxy.cfg``, both of its servers that same replica, so the replica's load is
the same), alternating ``--rounds`` times.

    python benchmarks/workers.py [--duration 20] [--start 60] [--skip-capacity] [--skip-lb]
    python benchmarks/workers.py --images --start 6 --resolution 2 --skip-lb

``--images``: the same capacity search with image frames (fast.yaml, the committed photos,
p99 ≤ 100 ms as README's "Operating figures" has it for images).

Results in ``artifacts/workers/*.json``; a summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "artifacts" / "workers"
LANDMARKS = ROOT / "training" / "data" / "roboflow_valid.npz"
PHOTOS = ROOT / "tests" / "data" / "photos"
CLI = [sys.executable, "-m", "signify_graph.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpus() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes: the server's and the load generator's."""
    available = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(available) < 2:
        return [], []
    generator = ["taskset", "-c", str(available[-1])]
    if len(available) < 3:
        return [], generator
    return ["taskset", "-c", ",".join(map(str, available[:-1]))], generator


class Server:
    """``serve --workers N`` of landmarks.yaml, every frame answered, limits out of the way."""

    def __init__(self, workers: int, log: Path, pipeline: str = "pipelines/landmarks.yaml") -> None:
        self.port, self.health = free_port(), free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "HEALTH_PORT": str(self.health),
            "WEBSOCKET_HOST": "127.0.0.1",
            "SIGNIFY_MAX_SESSIONS": "2000",
            "SIGNIFY_RATE_LIMIT": "100",
            "SIGNIFY_RATE_BURST": "50",
            "SIGNIFY_MAX_SESSIONS_PER_PEER": "0",
            "SIGNIFY_PEER_RATE_LIMIT": "0",
        }
        command = [*cpus()[0], *CLI, "serve", pipeline, "--workers", str(workers)]
        command += ["--set", "emit.min_interval_ms=0", "--set", "emit.heartbeat_ms=1"]
        with log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + 180
        while not self._ready():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the server did not become ready: see {log}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health}/ready", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def load(
    url: str, clients: int, duration: float, metrics: str, source: Path = LANDMARKS
) -> dict[str, Any]:
    command = [*cpus()[1], *CLI, "loadtest", url, "--source", str(source), "--json"]
    command += ["--clients", str(clients), "--fps", "15", "--duration", str(duration)]
    command += ["--ramp", str(min(5.0, clients / 40)), "--metrics", metrics]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def passes(summary: dict[str, Any], limit_ms: float, min_answered: float = 0.999) -> bool:
    p99 = summary["latency_ms"]["p99"]
    answered = summary["answered"] / max(1, summary["sent"])
    ok = p99 is not None and p99 <= limit_ms and answered >= min_answered
    return ok and not summary["failed_clients"]


def capacity(workers: int, args: argparse.Namespace) -> dict[str, Any]:
    pipeline = "pipelines/fast.yaml" if args.images else "pipelines/landmarks.yaml"
    # Images: a session's first frame waits for MediaPipe's first detection (~100 ms), so
    # newest-frame-wins replaces a frame or two behind it by design; 99 % answered, not 99.9 %.
    source, limit, answered = (PHOTOS, 100.0, 0.99) if args.images else (LANDMARKS, 50.0, 0.999)
    server = Server(workers, OUT / f"server-{workers}w.log", pipeline)
    url, metrics = f"ws://127.0.0.1:{server.port}/", f"http://127.0.0.1:{server.health}/metrics"
    trials: list[dict[str, Any]] = []
    try:
        good, bad, clients = 0, 0, args.start
        while bad == 0 or bad - good > max(args.resolution, good // 20):
            summary = load(url, clients, args.duration, metrics, source)
            ok = passes(summary, limit, answered)
            trials.append({"clients": clients, "ok": ok, **summary, "server": None})
            print(
                f"  {workers} worker(s), {clients} clients: p99 {summary['latency_ms']['p99']}"
                f" ms, {summary['answered']}/{summary['sent']} answered -> {'ok' if ok else 'no'}"
            )
            if ok:
                good = clients
            else:
                bad = clients
            clients = int(clients * 1.5) if bad == 0 else (good + bad) // 2
            if good == 0 and bad and bad <= args.resolution:
                break
    finally:
        server.stop()
    return {
        "workers": workers,
        "pipeline": pipeline,
        "p99_limit_ms": limit,
        "capacity_clients": good,
        "trials": trials,
    }


def haproxy(args: argparse.Namespace) -> dict[str, Any]:
    server = Server(1, OUT / "server-lb.log")
    lb, admin = free_port(), Path(tempfile.mkdtemp()) / "admin.sock"
    replica = f"127.0.0.1:{server.port}"
    metrics = f"http://127.0.0.1:{server.health}/metrics"
    env = {**os.environ, "SIGNIFY_LB_BIND": f"127.0.0.1:{lb}", "SIGNIFY_LB_ADMIN": str(admin)}
    env |= {"SIGNIFY_REPLICA_1": replica, "SIGNIFY_REPLICA_2": replica}
    proxy = subprocess.Popen(
        ["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rounds: list[dict[str, Any]] = []
    try:
        time.sleep(3)  # two health checks (inter 1 s, rise 2) before HAProxy sends anyone
        for _ in range(args.rounds):
            for path, port in (("direct", server.port), ("haproxy", lb)):
                url = f"ws://127.0.0.1:{port}/"
                summary = load(url, args.lb_clients, args.duration, metrics)
                rounds.append(
                    {
                        "path": path,
                        **summary["latency_ms"],
                        "sent": summary["sent"],
                        "answered": summary["answered"],
                    }
                )
                print(f"  {path}: {summary['latency_ms']}")
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
        server.stop()
    median = {
        path: {
            q: statistics.median(r[q] for r in rounds if r["path"] == path) for q in ("p50", "p99")
        }
        for path in ("direct", "haproxy")
    }
    return {"clients": args.lb_clients, "rounds": rounds, "median": median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per trial")
    parser.add_argument("--start", type=int, default=60, help="clients of the first trial")
    parser.add_argument("--resolution", type=int, default=10, help="clients")
    parser.add_argument("--lb-clients", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--skip-lb", action="store_true")
    parser.add_argument("--images", action="store_true", help="image frames (fast.yaml)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    server_cpus, generator_cpus = cpus()
    result: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)),
        "server_taskset": " ".join(server_cpus) or "none",
        "generator_taskset": " ".join(generator_cpus) or "none",
        "load_average": os.getloadavg(),
    }
    print(
        f"server pinned: {result['server_taskset']}; load generator: {result['generator_taskset']}"
    )
    if not args.skip_capacity:
        result["capacity"] = [capacity(workers, args) for workers in (1, 2)]
        one, two = (c["capacity_clients"] for c in result["capacity"])
        print(f"capacity: 1 worker {one} clients, 2 workers {two} ({two / max(1, one):.2f}x)")
    if not args.skip_lb and shutil.which("haproxy"):
        result["haproxy"] = haproxy(args)
        print(f"latency ms (median of {args.rounds} rounds): {result['haproxy']['median']}")
    (OUT / ("workers-images.json" if args.images else "workers.json")).write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
