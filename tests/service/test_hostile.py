"""Hostile clients: floods, slow readers, half-open connections, faulty and hung stages.
Whatever one client does, its own session survives where the protocol allows, and every
other session carries on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from signify_graph import (
    FrameContext,
    Hand,
    Image,
    Kind,
    Port,
    Reply,
    Stage,
    create_host,
    hookimpl,
)

from .conftest import (
    EVERY_LANDMARK_FRAME,
    REAL_LANDMARKS,
    ROOT,
    client,
    dropped,
    next_reply,
    photo,
    receive_json,
    run,
    running_service,
)
from .test_service import aget

pytestmark = pytest.mark.slow

RELEASE_HANG = threading.Event()


class FaultStage(Stage):
    """Pass images through, but fail on an all-white frame, hang on an all-grey one and take
    0.6 s over a dark-grey one."""

    name = "fault_injector"
    inputs: ClassVar = {"image": Port(Kind.IMAGE)}
    output = Kind.IMAGE

    def process(self, frame: FrameContext, image: Image) -> Image:
        corner = int(image.rgb[0, 0, 0])
        if corner > 250 and int(image.rgb.min()) > 250:
            raise RuntimeError("injected fault")
        if 120 < corner < 136 and np.ptp(image.rgb) < 16:
            RELEASE_HANG.wait(30)  # a stage that hangs (until the test lets it go)
        if 56 < corner < 72 and np.ptp(image.rgb) < 16:
            time.sleep(0.6)  # slow, but it finishes
        return image


class SetInReplyStage(Stage):
    """Pass replies through, but give sessions whose client asked for it (``aspect`` 1.25) a
    reply holding a set, which JSON cannot carry: a third-party stage's mistake."""

    name = "set_in_reply"
    inputs: ClassVar = {"reply": Port(Kind.REPLY), "hand": Port(Kind.HAND)}
    output = Kind.REPLY

    def process(self, frame: FrameContext, reply: Reply | None, hand: Hand | None) -> Any:
        if reply is not None and hand is not None and hand.aspect == 1.25:
            return {**reply, "tags": {"a", "b"}}
        return reply


class FaultPlugin:
    """The faulty stages these tests put into pipelines."""

    @staticmethod
    @hookimpl
    def signify_register_stages(registry: Any) -> None:
        registry.add(FaultStage)
        registry.add(SetInReplyStage)


def _solid_jpeg(value: int) -> bytes:
    import cv2

    ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), value, np.uint8))
    assert ok
    return jpeg.tobytes()


def _fault_pipeline(tmp_path: Path) -> Path:
    text = (ROOT / "pipelines" / "default.yaml").read_text()
    text = text.replace(
        "  - id: hands\n", "  - id: fault\n    stage: fault_injector\n  - id: hands\n"
    )
    text = text.replace("../models/", f"{ROOT}/models/")
    path = tmp_path / "fault.yaml"
    path.write_text(text)
    return path


def _fault_service(tmp_path: Path, **settings: Any) -> Any:
    """The default pipeline with a fault-injecting stage between decode and hands."""
    from .conftest import EVERY_FRAME

    overrides = [*EVERY_FRAME, f"hands.models_dir={ROOT}/models"]
    return running_service(
        str(_fault_pipeline(tmp_path)), overrides, create_host([FaultPlugin]), **settings
    )


def test_a_stage_that_raises_fails_only_that_frame_and_ready_stays_200(tmp_path: Path):
    async def scenario() -> None:
        async with (
            _fault_service(tmp_path) as service,
            client(service) as victim,
            client(service) as bystander,
        ):
            await victim.send(_solid_jpeg(255))
            error = await receive_json(victim)
            await victim.send(photo("B"))
            after = await next_reply(victim)
            await bystander.send(photo("B"))
            other = await next_reply(bystander)
            ready = await aget(service.ws_port, "/ready")
        assert error["error"]["code"] == "stage_failed"
        assert "fault" in error["error"]["message"]
        assert after["status"] in ("ok", "warming_up") and other["letter"]
        assert ready[0] == 200

    run(scenario)


def test_a_hung_stage_hits_the_frame_deadline_and_other_sessions_continue(tmp_path: Path):
    async def scenario() -> None:
        RELEASE_HANG.clear()
        try:
            async with (
                _fault_service(tmp_path, frame_deadline_ms=300) as service,
                client(service) as victim,
                client(service) as bystander,
            ):
                await victim.send(_solid_jpeg(128))
                error = await receive_json(victim)
                await asyncio.wait_for(victim.wait_closed(), 5)
                replies = []
                for _ in range(3):
                    await bystander.send(photo("B"))
                    replies.append(await next_reply(bystander))
                ready = await aget(service.ws_port, "/ready")
        finally:
            RELEASE_HANG.set()
        assert error["error"]["code"] == "deadline_exceeded"
        assert victim.close_code == 1011
        assert all(r["letter"] for r in replies)
        assert ready[0] == 200

    run(scenario)


def test_a_client_that_never_reads_is_closed_by_keepalive_and_others_continue():
    async def scenario() -> None:
        async with running_service(
            ping_interval=0.3, ping_timeout=0.3, close_timeout=0.5
        ) as service:
            raw = socket.create_connection(("127.0.0.1", service.ws_port))
            raw.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await asyncio.sleep(0.2)
            opened = json.loads((await aget(service.ws_port, "/health"))[1])["sessions"]
            loop = asyncio.get_running_loop()
            silent_since, after = loop.time(), opened
            while after and loop.time() - silent_since < 15:  # it never answers the pings
                await asyncio.sleep(0.1)
                after = json.loads((await aget(service.ws_port, "/health"))[1])["sessions"]
            closed_after = loop.time() - silent_since
            async with client(service) as ws:
                await ws.send(photo("B"))
                reply = await next_reply(ws)
            raw.close()
        assert opened == 1 and after == 0
        assert closed_after < 0.3 + 0.3 + 0.5 + 1.0  # ping interval + timeout + close + slack
        assert reply["letter"]

    run(scenario)


def test_a_slow_reader_holds_back_only_its_own_frames():
    """A client that sends 100 frames and never reads a reply: its frames are dropped as
    newer ones arrive (memory stays bounded), and another client is answered meanwhile."""

    async def scenario() -> None:
        # No rate cap here: this is about newest-frame-wins against a reader that stalls.
        async with running_service(rate_burst=1000, max_messages_per_second=1000) as service:
            slow = await client(service, max_queue=1, ping_interval=None).__aenter__()
            jpeg = photo("B")
            try:
                for _ in range(100):  # never reads a reply
                    await slow.send(jpeg)
                async with client(service) as ws:
                    replies = []
                    for _ in range(3):
                        await ws.send(photo("L"))
                        replies.append(await next_reply(ws))
                count = 0.0
                for _ in range(50):  # the server may still be reading the slow client's frames
                    count = dropped((await aget(service.health_port, "/metrics"))[1])
                    if count > 50:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await slow.close()
        assert all(r["letter"] for r in replies)
        assert count > 50  # most of them

    run(scenario)


def test_a_reply_json_cannot_carry_is_a_stage_failed_error_not_silence(tmp_path: Path):
    text = (
        (ROOT / "pipelines" / "landmarks.yaml").read_text().replace("../models/", f"{ROOT}/models/")
    )
    text += "  - id: tagger\n    stage: set_in_reply\n    inputs: {reply: emit, hand: landmarks}\n"
    pipeline = tmp_path / "tagged.yaml"
    pipeline.write_text(text)

    async def scenario() -> None:
        async with (
            running_service(
                str(pipeline),
                EVERY_LANDMARK_FRAME,
                create_host([FaultPlugin]),
            ) as service,
            client(service) as victim,
            client(service) as bystander,
        ):
            bad = {"type": "landmarks", "landmarks": REAL_LANDMARKS, "aspect": 1.25, "id": 7}
            await victim.send(json.dumps(bad))
            error = await receive_json(victim)
            good = {"type": "landmarks", "landmarks": REAL_LANDMARKS}
            await victim.send(json.dumps({**good, "id": 8}))
            after = await next_reply(victim)
            await bystander.send(json.dumps(good))
            other = await next_reply(bystander)
        assert error["error"]["code"] == "stage_failed"
        assert "could not be encoded as JSON" in error["error"]["message"]
        assert error["id"] == 7
        assert after["letter"] and after["id"] == 8
        assert other["letter"] == after["letter"]

    run(scenario)


BAD_LANDMARKS = [
    ([[0.5, 0.5, float("nan")]] * 21, "NaN"),
    ([[0.5, 0.5, float("inf")]] * 21, "infinite"),
    ([[0.5, 0.5, 0.0]] * 20, "shape"),
    ([[0.5, 0.5]] * 21, "shape"),
    ("twenty-one points", "21 [x, y, z]"),
]


def test_bad_landmarks_are_refused_and_the_session_and_others_go_on():
    good = {"type": "landmarks", "landmarks": REAL_LANDMARKS}

    async def scenario() -> None:
        async with (
            running_service("pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME) as service,
            client(service) as ws,
            client(service) as bystander,
        ):
            errors = []
            for points, _ in BAD_LANDMARKS:
                # json.dumps writes NaN/Infinity, which Python's json (and ours) reads back
                await ws.send(json.dumps({"type": "landmarks", "landmarks": points}))
                errors.append(await receive_json(ws))
            await ws.send(json.dumps(good))
            after = await next_reply(ws)
            await bystander.send(json.dumps(good))
            other = await next_reply(bystander)
        for error, (_, words) in zip(errors, BAD_LANDMARKS, strict=True):
            assert error["error"]["code"] == "bad_landmarks"
            assert words in error["error"]["message"]
        assert after["letter"] and other["letter"] == after["letter"]

    run(scenario)


def _flood_messages(count: int) -> list[str]:
    return [
        json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS, "id": i})
        for i in range(count)
    ]


def _five_per_second(flood_factor: float) -> Any:
    """The landmark pipeline, every frame answered, a rate limit of 5/s (burst 2)."""
    return running_service(
        "pipelines/landmarks.yaml",
        EVERY_LANDMARK_FRAME,
        max_messages_per_second=5,
        rate_burst=2,
        flood_factor=flood_factor,
    )


def test_a_client_that_ignores_rate_limited_is_closed_with_1008_and_others_go_on():
    """Rate limit 5/s, flood factor 10: a client sending 400 messages at once is refused more
    than 50 times within a second and closed with 1008 and a reason, counted in /metrics. A
    bystander's session carries on. (One client sending as fast as it could kept a core busy
    reading and refusing 25,000 messages/s.)"""

    async def scenario() -> tuple[int | None, str | None, dict[str, Any], bytes]:
        async with (
            _five_per_second(flood_factor=10) as service,
            client(service) as bystander,
        ):
            flooder = await client(service)

            async def read_until_closed() -> None:  # the close comes behind the refusals
                with contextlib.suppress(ConnectionClosed):
                    async for _ in flooder:
                        pass

            reader = asyncio.create_task(read_until_closed())
            with contextlib.suppress(ConnectionClosed):
                for message in _flood_messages(400):
                    await flooder.send(message)
            await asyncio.wait_for(reader, 5)
            await bystander.send(_flood_messages(1)[0])
            reply = await next_reply(bystander)
            _, metrics = await aget(service.health_port, "/metrics")
            return flooder.close_code, flooder.close_reason, reply, metrics

    code, reason, reply, metrics = asyncio.run(scenario())
    assert (code, reason) == (1008, "far more than 5 messages/s; slow down")
    assert reply.get("id") == 0 and reply["letter"]
    assert b"signify_sessions_closed_flooding_total 1.0" in metrics


def test_with_flood_factor_0_a_flooding_client_is_only_refused():
    async def scenario() -> tuple[int, dict[str, Any]]:
        async with (
            _five_per_second(flood_factor=0) as service,
            client(service) as ws,
        ):
            for message in _flood_messages(400):
                await ws.send(message)
            refused = 0
            with contextlib.suppress(TimeoutError):
                while True:  # until the replies stop coming
                    reply = await receive_json(ws, timeout=1.0)
                    refused += reply.get("error", {}).get("code") == "rate_limited"
            # a second has passed: the bucket refilled, the session answers
            await ws.send(_flood_messages(1)[0])
            return refused, await next_reply(ws)

    refused, reply = asyncio.run(scenario())
    assert refused >= 390 and reply.get("id") == 0 and reply["letter"]
