"""One client sending landmark messages as fast as the connection takes them.

Why: a client that ignores ``rate_limited`` (a bug in a loop, or malice) costs the server a
read, a refusal and an error reply per message, on the one core that serves every landmark
session. This measures what it gets away with: messages sent per second, the server's CPU
meanwhile (from its ``/metrics``), and how the connection ended.

Run against a running server (``signify-graph serve pipelines/landmarks.yaml``):
``python benchmarks/flood_unbounded.py ws://127.0.0.1:8765/ http://127.0.0.1:8080/metrics``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signify_graph.tools.loadtest import messages

ROOT = Path(__file__).resolve().parents[1]


def server_cpu_seconds(metrics_url: str) -> float:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    line = next(x for x in text.splitlines() if x.startswith("process_cpu_seconds_total"))
    return float(line.split()[-1])


async def flood(url: str, metrics_url: str, seconds: float) -> str:
    message = json.dumps(messages(ROOT / "training" / "data" / "roboflow_valid.npz")[0])
    async with connect(url, compression=None) as ws:
        replies = 0

        async def read() -> None:
            nonlocal replies
            async for _ in ws:
                replies += 1

        reader = asyncio.create_task(read())
        cpu_before, started, sent = server_cpu_seconds(metrics_url), time.monotonic(), 0
        try:
            while time.monotonic() - started < seconds:
                for _ in range(50):
                    await ws.send(message)
                    sent += 1
                await asyncio.sleep(0)
            ended = "still open"
        except ConnectionClosed:
            ended = f"closed by the server with {ws.close_code} {ws.close_reason!r}"
        took = time.monotonic() - started
        await asyncio.sleep(0.5)
        cpu = server_cpu_seconds(metrics_url) - cpu_before
        reader.cancel()
    return (
        f"sent {sent} in {took:.2f} s ({sent / took:,.0f}/s), {replies} replies, "
        f"server CPU {cpu:.2f} s; connection {ended}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("metrics", help="the server's /metrics URL")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(asyncio.run(flood(args.url, args.metrics, args.seconds)))


if __name__ == "__main__":
    main()
