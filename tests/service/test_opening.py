"""A session reads its client from the first message on, while its stage sessions are made;
a graph of inline-safe stages opens on the event loop; a session that cannot open is closed
with 1011 and leaves the server serving."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from websockets.protocol import State

from signify_graph import FrameContext, Hand, Kind, Port, Stage, StageSession, create_host, hookimpl

from .conftest import (
    EVERY_LANDMARK_FRAME,
    REAL_LANDMARKS,
    ROOT,
    client,
    next_reply,
    photo,
    receive_json,
    running_service,
)
from .test_service import aget

pytestmark = pytest.mark.slow


@contextmanager
def every_worker_busy(service: Any) -> Iterator[threading.Event]:
    """Occupy each of the service's worker threads until the event is set (or the block ends)."""
    release = threading.Event()
    for _ in range(service.settings.worker_count):
        service.pool.submit(release.wait, 30)
    try:
        yield release
    finally:
        release.set()


def test_a_landmark_session_opens_and_answers_while_every_worker_thread_is_busy():
    """Every stage of landmarks.yaml is inline-safe, so its sessions open on the event loop.
    Opened on a worker thread, as before, they waited for one: on a loaded server newcomers
    waited seconds for their first answer (BENCHMARKS.md, landmarks at twice capacity)."""

    async def scenario() -> dict[str, Any]:
        async with running_service(
            "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, workers=2
        ) as service:
            with every_worker_busy(service):
                async with client(service) as ws:
                    await ws.send(
                        json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS, "id": 7})
                    )
                    return await next_reply(ws, timeout=5)

    reply = asyncio.run(scenario())
    assert reply.get("id") == 7 and "error" not in reply and reply["letter"], reply


def test_frames_sent_while_a_session_opens_replace_each_other_and_are_not_rate_limited():
    """A MediaPipe session waits for a worker thread to make its landmarker. Its client keeps
    sending at 10 fps, within the rate limit (30/s, burst 3). The server reads each frame as it
    comes, each replaces the one before, and once the session is open the newest is answered:
    the first reply is for the last frame sent, and no other follows. Left in the socket until
    the session opened, the ten frames used to arrive at once and seven got ``rate_limited``."""
    image = base64.b64encode(photo("B")).decode()

    async def scenario() -> tuple[list[dict[str, Any]], bool]:
        async with running_service(workers=2, rate_burst=3) as service:
            with every_worker_busy(service) as release:
                ws = await client(service)
                for index in range(10):
                    await ws.send(json.dumps({"type": "frame", "image": image, "id": index}))
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.2)
                release.set()
                first = await receive_json(ws, timeout=20)
            try:
                more = await receive_json(ws, timeout=1.0)
            except TimeoutError:
                return [first], True
            finally:
                await ws.close()
            return [first, more], False

    replies, nothing_else = asyncio.run(scenario())
    first = replies[0]
    assert "error" not in first and first.get("id") == 9 and "status" in first, replies
    assert nothing_else, replies


OPEN_REFUSED = threading.Event()


class RefuseToOpenStage(Stage):
    """Pass hands through; once ``OPEN_REFUSED`` is set, refuse to open sessions (as a stage
    that runs out of memory making a model's per-session state might)."""

    name = "refuse_to_open"
    inputs: ClassVar = {"hand": Port(Kind.HAND)}
    output = Kind.HAND

    def open(self, session_id: str) -> StageSession:
        if OPEN_REFUSED.is_set():
            raise MemoryError("no room for another session")
        return super().open(session_id)

    def process(self, frame: FrameContext, hand: Hand | None) -> Hand | None:
        return hand


class InlineRefuseToOpenStage(RefuseToOpenStage):
    """The same, inline-safe: its sessions open on the event loop."""

    name = "refuse_to_open_inline"
    inline_safe = True


class RefusePlugin:
    @staticmethod
    @hookimpl
    def signify_register_stages(registry: Any) -> None:
        registry.add(RefuseToOpenStage)
        registry.add(InlineRefuseToOpenStage)


def _refusing_pipeline(tmp_path: Path, stage: str) -> Path:
    text = (ROOT / "pipelines" / "landmarks.yaml").read_text()
    text = text.replace(
        "  - id: normalize\n", f"  - id: gate\n    stage: {stage}\n  - id: normalize\n"
    )
    path = tmp_path / "refusing.yaml"
    path.write_text(text.replace("../models/", f"{ROOT}/models/"))
    return path


@pytest.mark.parametrize("stage", ["refuse_to_open", "refuse_to_open_inline"])
def test_a_session_that_cannot_open_is_closed_with_1011_and_the_server_serves_on(
    tmp_path: Path, stage: str, caplog: pytest.LogCaptureFixture
):
    """On a worker thread or on the event loop: the client is told why (1011), the log has the
    traceback, the session is not counted, ``/ready`` stays 200, and once stages open again
    a new client is served."""
    pipeline = str(_refusing_pipeline(tmp_path, stage))
    message = json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS, "id": 1})

    async def scenario() -> tuple[int | None, str, int, int, dict[str, Any]]:
        host = create_host([RefusePlugin])
        async with running_service(pipeline, EVERY_LANDMARK_FRAME, host) as service:
            OPEN_REFUSED.set()
            try:
                refused = await client(service)
                await asyncio.wait_for(refused.wait_closed(), 5)
            finally:
                OPEN_REFUSED.clear()
            ready, _ = await aget(service.health_port, "/ready")
            async with client(service) as served:
                await served.send(message)
                reply = await next_reply(served)
                sessions = service.state.sessions
            return refused.close_code, refused.close_reason or "", ready, sessions, reply

    code, reason, ready, sessions, reply = asyncio.run(scenario())
    assert (code, reason) == (1011, "the session could not be opened")
    assert "MemoryError: no room for another session" in caplog.text
    assert ready == 200 and sessions == 1
    assert reply.get("id") == 1 and reply["letter"]


def test_a_reset_sent_while_a_session_opens_is_acknowledged_and_the_next_frame_answered():
    image = base64.b64encode(photo("B")).decode()

    async def scenario() -> list[dict[str, Any]]:
        async with running_service(workers=2) as service:
            with every_worker_busy(service) as release:
                ws = await client(service)
                await ws.send(json.dumps({"type": "frame", "image": image, "id": 1}))
                await ws.send(json.dumps({"type": "reset"}))
                ack = await receive_json(ws, timeout=5)
                await ws.send(json.dumps({"type": "frame", "image": image, "id": 2}))
                release.set()
                reply = await next_reply(ws, timeout=20)
                await ws.close()
                return [ack, reply]

    ack, reply = asyncio.run(scenario())
    assert ack.get("ack") == "reset"
    assert reply.get("id") == 2 and "error" not in reply, reply


class CountOpens:
    """Counts the sessions the graph opens (a plugin's view of them)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    @hookimpl
    def signify_session_opened(self, graph: Any, session_id: str) -> None:
        self.opened.append(session_id)


def test_a_client_that_leaves_while_its_session_waits_to_open_costs_no_landmarker():
    """Sessions open a few at a time (each makes a MediaPipe landmarker). A client that gives
    up while it waits for its turn leaves nothing to make, and nothing to close."""
    counter = CountOpens()

    async def scenario() -> tuple[int, int]:
        async with running_service(host=create_host([counter])) as service:
            before = len(counter.opened)
            async with service._opening:  # every turn taken, as in a storm of connections
                ws = await client(service)
                await ws.close()
                assert service._ws is not None
                while any(c.state is not State.CLOSED for c in service._ws.connections):
                    await asyncio.sleep(0.01)
            # its turn would have come now; then a client that stays is served
            async with client(service) as stays:
                await stays.send(photo("B"))
                await next_reply(stays)
            return len(counter.opened) - before, service.state.sessions

    opened, sessions = asyncio.run(scenario())
    assert opened == 1 and sessions == 1


def test_the_recording_of_a_session_that_cannot_open_is_complete_when_it_ends(tmp_path: Path):
    """``--record``: the session's file holds its header and every message it was sent, closed
    (not left to the garbage collector) when the session ends."""
    pipeline = str(_refusing_pipeline(tmp_path, "refuse_to_open"))
    message = json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS, "id": 1})
    recordings = tmp_path / "recordings"

    async def scenario() -> list[Path]:
        host = create_host([RefusePlugin])
        async with running_service(
            pipeline, EVERY_LANDMARK_FRAME, host, record_dir=recordings
        ) as service:
            OPEN_REFUSED.set()
            try:
                with every_worker_busy(service) as release:
                    refused = await client(service)
                    await refused.send(message)
                    await asyncio.sleep(0.2)  # read while the session waits to open
                    release.set()
                    await asyncio.wait_for(refused.wait_closed(), 5)
                while service.state.sessions:
                    await asyncio.sleep(0.01)
                return sorted(recordings.glob("*.jsonl"))
            finally:
                OPEN_REFUSED.clear()

    files = asyncio.run(scenario())
    assert len(files) == 1
    events = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert events[0]["format"] and events[1] == {"in": 0, "t": events[1]["t"], "text": message}


def test_a_session_whose_recording_cannot_be_made_is_closed_and_not_counted(tmp_path: Path):
    """``SIGNIFY_RECORD_DIR`` is a file (a mistake; or a full disk): the client is closed with
    1011, and the session is not left counted against ``SIGNIFY_MAX_SESSIONS``."""
    not_a_directory = tmp_path / "recordings"
    not_a_directory.write_text("")

    async def scenario() -> tuple[int | None, int]:
        async with running_service(
            "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, record_dir=not_a_directory
        ) as service:
            ws = await client(service)
            await asyncio.wait_for(ws.wait_closed(), 5)

            async def no_sessions_left() -> None:
                while service.state.sessions:
                    await asyncio.sleep(0.01)

            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(no_sessions_left(), 5)
            return ws.close_code, service.state.sessions

    code, sessions = asyncio.run(scenario())
    assert code == 1011 and sessions == 0
