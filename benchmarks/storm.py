"""A storm of new connections: N clients connect at the same moment, each sends one frame,
waits for its answer, stays a second and leaves.

Why: a room of phones opening the app together, or every client reconnecting after a deploy,
makes and then closes N MediaPipe landmarkers at once. ``benchmarks/capacity storm`` runs this
next to two clients streaming at 15 fps, and measures what the storm does to them against the
same two streams alone on the same server.

With ``--source LANDMARKS.npz`` each newcomer sends a landmark message instead of a photo:
for a server running ``pipelines/landmarks.yaml``, where opening a session costs microseconds
and what a storm measures is whether newcomers wait behind a busy server to be let in.

Run: ``python benchmarks/storm.py ws://127.0.0.1:8765/ --clients 30 [--source FILE.npz]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from websockets.asyncio.client import connect

from signify_graph.tools.loadtest import messages

ROOT = Path(__file__).resolve().parents[1]


async def newcomer(url: str, message: bytes | str, stay: float) -> float:
    """Seconds from connecting to the first reply with a status (or an error)."""
    started = time.monotonic()
    async with connect(url, compression=None, open_timeout=60) as ws:
        await ws.send(message)
        while "status" not in (reply := json.loads(await asyncio.wait_for(ws.recv(), 60))):
            if "error" in reply:
                raise RuntimeError(reply["error"])
        answered = time.monotonic() - started
        await asyncio.sleep(stay)
    return answered


def first_message(source: Path | None) -> bytes | str:
    """A photo of the letter B as JPEG bytes, or the first hand of a landmark file as JSON."""
    if source is None:
        return next((ROOT / "tests" / "data" / "photos" / "B").glob("*.jpg")).read_bytes()
    return json.dumps(messages(source)[0])


async def storm(url: str, clients: int, stay: float, source: Path | None) -> list[float]:
    message = first_message(source)
    return list(await asyncio.gather(*(newcomer(url, message, stay) for _ in range(clients))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--stay", type=float, default=1.0, help="seconds after the answer")
    parser.add_argument("--source", type=Path, default=None, help="a landmark .npz (X, y)")
    args = parser.parse_args()
    seconds = sorted(asyncio.run(storm(args.url, args.clients, args.stay, args.source)))
    print(
        f"storm: {len(seconds)} clients answered; connect → first reply "
        f"median {seconds[len(seconds) // 2]:.2f} s, slowest {seconds[-1]:.2f} s"
    )


if __name__ == "__main__":
    main()
