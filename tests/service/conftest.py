"""A real service on 127.0.0.1 port 0, real WebSocket clients, real photos."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from signify_graph import PluginHost, create_host
from signify_graph.service.server import Service
from signify_graph.service.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "tests" / "data" / "photos"
#: Replies for every frame, so tests can count them (the throttle has its own tests).
EVERY_FRAME = [
    "emit.min_interval_ms=0",
    "emit.heartbeat_ms=1",
    "hands.pad=0.25",
]
#: The same for pipelines/landmarks.yaml.
EVERY_LANDMARK_FRAME = ["emit.min_interval_ms=0", "emit.heartbeat_ms=1"]
#: Real landmarks (21 × 3, raw image coordinates), found by the hands stage on a public-domain
#: photo of the training data.
REAL_LANDMARKS: list[list[float]] = np.load(ROOT / "training" / "data" / "roboflow_valid.npz")["X"][
    0
].tolist()


def photo(letter: str, index: int = 0) -> bytes:
    return sorted((PHOTOS / letter).glob("*.jpg"))[index].read_bytes()


@asynccontextmanager
async def running_service(
    pipeline: str = "pipelines/default.yaml",
    overrides: list[str] | None = None,
    host: PluginHost | None = None,
    **settings: Any,
) -> AsyncIterator[Service]:
    """A started service on 127.0.0.1 (ports chosen by the OS), drained on exit."""
    values = {"pipeline": str(ROOT / pipeline), "port": 0, "health_port": 0, "host": "127.0.0.1"}
    values.update(settings)
    chosen = EVERY_FRAME if overrides is None else overrides
    service = Service(load_settings({}, **values), host or create_host(), chosen)
    await service.start()
    try:
        yield service
    finally:
        await service.drain()


def client(service: Service, **options: Any) -> Any:
    return connect(f"ws://127.0.0.1:{service.ws_port}/", compression=None, **options)


async def receive_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), timeout)
    data: dict[str, Any] = json.loads(message)
    return data


async def next_reply(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next letter reply, skipping acknowledgements."""
    while True:
        data = await receive_json(ws, timeout)
        if "ack" not in data:
            return data


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


@pytest.fixture
def letter_photo() -> tuple[str, bytes]:
    """A photo whose letter the default pipeline recognises (see test_stages' measured rate)."""
    return "B", photo("B")


def dropped(metrics: bytes) -> float:
    return sum(
        float(line.split()[-1])
        for line in metrics.decode().splitlines()
        if line.startswith("signify_frames_dropped_total")
    )


async def stream(ws: Any, seconds: float, fps: float, jpeg: bytes) -> list[float]:
    """Send frames with ids at ``fps``; latency of every answered frame, in ms."""
    import base64

    loop = asyncio.get_running_loop()
    image = base64.b64encode(jpeg).decode()
    sent: dict[int, float] = {}
    latencies: list[float] = []

    async def receive() -> None:
        async for raw in ws:
            reply = json.loads(raw)
            if reply.get("id") in sent:
                latencies.append((loop.time() - sent.pop(reply["id"])) * 1000)

    receiver = asyncio.create_task(receive())
    start = loop.time()
    for index in range(int(seconds * fps)):
        await asyncio.sleep(max(0.0, start + index / fps - loop.time()))
        sent[index] = loop.time()
        await ws.send(json.dumps({"type": "frame", "image": image, "id": index}))
    await asyncio.sleep(0.5)
    receiver.cancel()
    return latencies
