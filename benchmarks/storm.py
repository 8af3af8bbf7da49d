"""A storm of new connections: N clients connect at the same moment, each sends one frame,
waits for its answer, stays a second and leaves.

Why: a room of phones opening the app together, or every client reconnecting after a deploy,
makes and then closes N MediaPipe landmarkers at once. ``benchmarks/capacity storm`` runs this
next to two clients streaming at 15 fps, and measures what the storm does to them against the
same two streams alone on the same server.

Run: ``python benchmarks/storm.py ws://127.0.0.1:8765/ --clients 30``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]


async def newcomer(url: str, jpeg: bytes, stay: float) -> float:
    """Seconds from connecting to the first reply with a status (or an error)."""
    started = time.monotonic()
    async with connect(url, compression=None, open_timeout=60) as ws:
        await ws.send(jpeg)
        while "status" not in (reply := json.loads(await asyncio.wait_for(ws.recv(), 60))):
            if "error" in reply:
                raise RuntimeError(reply["error"])
        answered = time.monotonic() - started
        await asyncio.sleep(stay)
    return answered


async def storm(url: str, clients: int, stay: float) -> list[float]:
    jpeg = next((ROOT / "tests" / "data" / "photos" / "B").glob("*.jpg")).read_bytes()
    return list(await asyncio.gather(*(newcomer(url, jpeg, stay) for _ in range(clients))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--stay", type=float, default=1.0, help="seconds after the answer")
    args = parser.parse_args()
    seconds = sorted(asyncio.run(storm(args.url, args.clients, args.stay)))
    print(
        f"storm: {len(seconds)} clients answered; connect → first reply "
        f"median {seconds[len(seconds) // 2]:.2f} s, slowest {seconds[-1]:.2f} s"
    )


if __name__ == "__main__":
    main()
