"""The four denial-of-service attacks of issue #18, against a real server in its own process.

Why: each was a way for one laptop to deny service to everyone. What this measures is the
"Done when" of the issue, each next to a baseline taken in the same run on the same server:

* ``ghosts`` — 150 connects/s, each one frame then a TCP reset, for 10 s, against 64 slots:
  the share of real clients (one every 0.25 s, from 127.0.0.2) that connect and get an answer,
  against the same clients before the storm; how long until no slot is taken after it;
* ``readers`` — 3 clients that flood pings and read nothing, with ``SIGNIFY_MAX_SESSIONS=3``
  and the flood cut-off off (only the write bound can end them): when each is closed, against
  keepalive + write timeout; whether a fourth client then gets in;
* ``pings`` — one client sending pings as fast as it can for 20 s and reading none: server RSS
  growth (from its ``/metrics``) over that with one idle client, and how the connection ended
  (``landmarks.yaml``: no landmarker per session to hide the pongs' cost);
* ``crowd`` — 50 connections from 127.0.0.1 each sending ~200 photos/s, beside one 15 fps
  client from 127.0.0.2: that client's replies and p95 latency, against the same client alone
  a moment before on the same server.

Every frame is answered (``emit.min_interval_ms=0``, heartbeat 1 ms) so replies can be counted.
``--code DIR`` serves from another checkout (a baseline worktree); the clients stay this one's.

Run: ``nice python benchmarks/hostile.py [SCENARIO...] [--code DIR] [--json FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.service.test_denial import PING, NonReader, ghost, masked_frame  # noqa: E402

PORT, HEALTH = 18865, 18180
URL = f"ws://127.0.0.1:{PORT}/"
PHOTO = sorted((ROOT / "tests" / "data" / "photos" / "B").glob("*.jpg"))[0].read_bytes()


@contextlib.contextmanager
def server(
    code: Path | None, pipeline: str = "pipelines/default.yaml", **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``signify-graph serve`` of ``pipeline``, every frame answered, until exit."""
    path = f"{code}:{code}/plugins" if code else os.environ.get("PYTHONPATH", "")
    settings = {"PORT": str(PORT), "HEALTH_PORT": str(HEALTH), "WEBSOCKET_HOST": "127.0.0.1"}
    settings["SIGNIFY_PROCESSES"] = "1"  # one process, whose RSS and limits are measured
    full_env = {**os.environ, "PYTHONPATH": path, **settings, **env}
    command = [sys.executable, "-P", "-m", "signify_graph.cli", "serve"]
    command += [pipeline, "--set", "emit.min_interval_ms=0", "--set", "emit.heartbeat_ms=1"]
    if pipeline.endswith("default.yaml"):
        command += ["--set", "hands.pad=0.25"]
    log = open(ROOT / "artifacts" / "hostile-server.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=log)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{HEALTH}/ready", timeout=1)
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not become ready")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def health() -> dict[str, Any]:
    raw = urllib.request.urlopen(f"http://127.0.0.1:{HEALTH}/health", timeout=5).read()
    data: dict[str, Any] = json.loads(raw)
    return data


def rss_mb() -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{HEALTH}/metrics", timeout=5).read()
    line = next(x for x in text.decode().splitlines() if x.startswith("process_resident"))
    return float(line.split()[-1]) / 2**20


async def real_client() -> bool:
    """Connect from 127.0.0.2, send a photo, get an answer within 10 s."""
    try:
        async with connect(URL, compression=None, local_addr=("127.0.0.2", 0)) as ws:
            await ws.send(PHOTO)
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if "status" in reply or "error" in reply:
                    return "status" in reply
    except (InvalidStatus, ConnectionClosed, OSError, TimeoutError):
        return False


async def clients_for(seconds: float) -> list[bool]:
    loop = asyncio.get_running_loop()
    results, start = [], loop.time()
    while loop.time() - start < seconds:
        results.append(await real_client())
        await asyncio.sleep(max(0.0, start + len(results) * 0.25 - loop.time()))
    return results


async def ghosts() -> dict[str, Any]:
    baseline = await clients_for(3)
    frame = masked_frame(0x2, PHOTO)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    peak = [0.0, 0]

    async def storm() -> None:
        start = loop.time()
        for index in range(1500):
            await asyncio.sleep(max(0.0, start + index / 150 - loop.time()))
            tasks.append(asyncio.create_task(ghost(PORT, frame)))
            if index % 150 == 0:
                peak[0] = max(peak[0], await asyncio.to_thread(rss_mb))
                peak[1] = max(peak[1], (await asyncio.to_thread(health))["sessions"])

    rss_before = rss_mb()
    attack = asyncio.create_task(storm())
    during = await clients_for(10)
    await attack
    await asyncio.gather(*tasks)
    ended = loop.time()
    while health()["sessions"] and loop.time() - ended < 30:
        await asyncio.sleep(0.02)
    return {
        "baseline_connected": sum(baseline) / len(baseline),
        "connected_during_storm": sum(during) / len(during),
        "real_clients": len(during),
        "slots_back_after_s": round(loop.time() - ended, 3),
        "sessions_peak_sampled": peak[1],
        "rss_mb": [round(rss_before, 1), round(peak[0], 1), round(rss_mb(), 1)],
    }


async def readers(bound: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    flooders = [await asyncio.to_thread(NonReader, PORT) for _ in range(3)]
    try:  # they flood until the server drops them (their sends then fail)
        while health()["sessions"] and loop.time() - start < 120:
            await asyncio.sleep(0.05)
        closed = loop.time() - start
        admitted = await real_client()
    finally:
        for flooder in flooders:
            flooder.close()
    return {"all_closed_after_s": round(closed, 2), "bound_s": bound, "fourth_admitted": admitted}


async def pings(seconds: float) -> dict[str, Any]:
    """One client flooding pings, reading nothing, until the server drops it or time is up.
    Served by ``landmarks.yaml``, whose sessions make no landmarker (~30 MB that would hide
    what the pongs cost); the baseline is the RSS with one idle client connected."""
    async with connect(URL, compression=None):
        await asyncio.sleep(1.0)
        rss_before = peak = rss_mb()
    flooder = await asyncio.to_thread(NonReader, PORT)
    start = time.monotonic()
    while time.monotonic() - start < seconds and flooder.thread.is_alive():
        peak = max(peak, await asyncio.to_thread(rss_mb))
        await asyncio.sleep(0.25)
    took = time.monotonic() - start
    ended = "still open" if flooder.thread.is_alive() else f"dropped after {took:.2f} s"
    flooder.close()
    await asyncio.sleep(1.0)
    peak = max(peak, rss_mb())
    return {
        "pings_sent": flooder.sent // len(PING),
        "rss_mb": [round(rss_before, 1), round(peak, 1)],
        "growth_mb": round(peak - rss_before, 1),
        "ended": ended,
    }


async def stream(seconds: float) -> dict[str, Any]:
    """One 15 fps client from 127.0.0.2: replies and their latencies."""
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    async with connect(URL, compression=None, local_addr=("127.0.0.2", 0)) as ws:

        async def receive() -> None:
            async for raw in ws:
                reply = json.loads(raw)
                if "status" in reply and reply.get("id") in sent:
                    latencies.append((loop.time() - sent.pop(reply["id"])) * 1000)

        receiver = asyncio.create_task(receive())
        frames, start = int(seconds * 15), loop.time()
        for index in range(frames):
            await asyncio.sleep(max(0.0, start + index / 15 - loop.time()))
            sent[index] = loop.time()
            await ws.send(json.dumps({"type": "frame", "image": _b64(), "id": index}))
        await asyncio.sleep(1.0)
        receiver.cancel()
    latencies.sort()
    result: dict[str, Any] = {"frames": frames, "replies": len(latencies)}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        value = latencies[int(q * (len(latencies) - 1))] if latencies else None
        result[f"{name}_ms"] = None if value is None else round(value, 1)
    return result


def _b64(cache: list[str] = []) -> str:  # noqa: B006 (a cache)
    if not cache:
        import base64

        cache.append(base64.b64encode(PHOTO).decode())
    return cache[0]


async def crowd(flooders: int, rate: float, seconds: float) -> dict[str, Any]:
    alone = await stream(seconds)
    admitted: list[Any] = []
    refused = 0
    for _ in range(flooders):
        try:
            admitted.append(await connect(URL, compression=None, max_queue=None))
        except InvalidStatus:
            refused += 1
    counts: dict[str, int] = {}

    async def flood(ws: Any) -> None:
        async def drain() -> None:
            async for raw in ws:
                reply = json.loads(raw)
                key = reply["error"]["code"] if "error" in reply else "reply"
                counts[key] = counts.get(key, 0) + 1

        reader = asyncio.create_task(drain())
        loop = asyncio.get_running_loop()
        start, index = loop.time(), 0
        with contextlib.suppress(ConnectionClosed):
            while loop.time() - start < seconds + 2:
                await ws.send(PHOTO)
                index += 1
                await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        reader.cancel()

    floods = [asyncio.create_task(flood(ws)) for ws in admitted]
    await asyncio.sleep(1.0)
    beside = await stream(seconds)
    await asyncio.gather(*floods)
    for ws in admitted:
        await ws.close()
    ratio = beside["replies"] / alone["replies"] if alone["replies"] else None
    return {
        "alone": alone,
        "beside_flood": beside,
        "replies_ratio": round(ratio, 3) if ratio is not None else None,
        "flooders_admitted": len(admitted),
        "flooders_refused": refused,
        "flooder_replies": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=["ghosts", "readers", "pings", "crowd"])
    parser.add_argument("--code", type=Path, help="serve from this checkout")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    for name in args.scenarios:
        started = time.monotonic()
        if name == "ghosts":
            with server(args.code):
                results[name] = asyncio.run(ghosts())
        elif name == "readers":
            env = {"SIGNIFY_MAX_SESSIONS": "3", "SIGNIFY_FLOOD_FACTOR": "0"}
            env |= {"SIGNIFY_PING_INTERVAL": "5", "SIGNIFY_PING_TIMEOUT": "5"}
            with server(args.code, SIGNIFY_WRITE_TIMEOUT="5", **env):
                results[name] = asyncio.run(readers(bound=5 + 5))
        elif name == "pings":
            with server(args.code, "pipelines/landmarks.yaml"):
                results[name] = asyncio.run(pings(20))
        elif name == "crowd":
            with server(args.code):
                results[name] = asyncio.run(crowd(50, 200, 10))
        results[name]["took_s"] = round(time.monotonic() - started, 1)
        print(name, json.dumps(results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
