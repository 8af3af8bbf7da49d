"""The streaming service end to end: real server, real clients, real photos."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import urllib.request
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import (
    EVERY_LANDMARK_FRAME,
    REAL_LANDMARKS,
    client,
    next_reply,
    photo,
    receive_json,
    run,
    running_service,
)

pytestmark = pytest.mark.slow


def http_get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def aget(port: int, path: str) -> tuple[int, bytes]:
    return await asyncio.to_thread(http_get, port, path)


def legacy(jpeg: bytes | None, target: str | None = None) -> str:
    blob = None if jpeg is None else base64.b64encode(jpeg).decode()
    return json.dumps({"jpeg_blob": blob, "new_word_letter": target})


async def letters_for(ws: Any, message: str | bytes, frames: int = 5) -> list[dict[str, Any]]:
    replies = []
    for _ in range(frames):
        await ws.send(message)
        replies.append(await next_reply(ws))
    return replies


def test_old_json_and_binary_frames_of_a_photo_are_answered_with_its_letter(letter_photo):
    letter, jpeg = letter_photo

    async def scenario() -> None:
        async with (
            running_service() as service,
            client(service) as ws,
        ):
            old = await letters_for(ws, legacy(jpeg))
            async with client(service) as ws:
                binary = await letters_for(ws, jpeg)
        for replies in (old, binary):
            last = replies[-1]
            assert last["maxarg_letter"] == letter == last["letter"]
            assert last["status"] == "ok"
            assert 0.0 <= last["target_arg_prob"] <= 1.0
            assert last["target_arg_prob"] == pytest.approx(last["confidence"], abs=1e-4)

    run(scenario)


def test_reset_and_target_in_one_session_do_not_touch_the_other(letter_photo):
    _, jpeg = letter_photo

    async def scenario() -> None:
        async with (
            running_service() as service,
            client(service) as first,
            client(service) as second,
        ):
            for _ in range(3):
                await first.send(jpeg)
                await next_reply(first)
                await second.send(jpeg)
                await next_reply(second)
            await first.send(json.dumps({"type": "reset", "target": "C"}))
            assert await receive_json(first) == {
                "ack": "reset",
                "target": "C",
                "detected_word_letter": None,
                "target_lettr_prob": 0.0,
            }
            await first.send(jpeg)
            after_reset = await next_reply(first)
            await second.send(jpeg)
            untouched = await next_reply(second)
        assert after_reset["target"] == "C" and after_reset["frames"] == 1
        assert untouched["target"] is None and untouched["frames"] == 4
        assert after_reset["target_arg_prob"] < after_reset["confidence"]

    run(scenario)


def test_legacy_null_blob_resets_with_new_target_without_a_fake_letter(letter_photo):
    _, jpeg = letter_photo

    async def scenario() -> None:
        async with running_service() as service, client(service) as ws:
            await letters_for(ws, jpeg, 3)
            await ws.send(legacy(None, "a"))
            ack = await receive_json(ws)
            await ws.send(jpeg)
            reply = await next_reply(ws)
        assert ack == {
            "ack": "reset",
            "target": "A",
            "detected_word_letter": None,
            "target_lettr_prob": 0.0,
        }
        assert reply["target"] == "A" and reply["frames"] == 1

    run(scenario)


def test_a_burst_of_50_frames_stays_current_and_counts_drops(letter_photo):
    _, jpeg = letter_photo

    async def scenario() -> None:
        # The rate cap is lifted: this is about newest-frame-wins, not the cap.
        async with running_service(rate_burst=100) as service, client(service) as ws:
            for _ in range(50):
                await ws.send(jpeg)
            replies = []
            loop = asyncio.get_running_loop()
            burst_end = loop.time()
            while True:
                try:
                    replies.append(await next_reply(ws, timeout=1.0))
                except TimeoutError:
                    break
            settled = loop.time() - burst_end - 1.0
            status, body = await aget(service.health_port, "/metrics")
        metrics = body.decode()
        dropped = sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('signify_frames_dropped_total{reason="superseded"}')
        )
        # Every frame is either answered or dropped; nothing is queued behind.
        assert len(replies) + dropped == 50
        assert dropped > 0
        assert settled < 1.0, "the last reply came long after the burst: frames were queued"
        assert status == 200

    run(scenario)


def _bomb_jpeg(width: int = 30000, height: int = 30000) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


BAD_INPUTS = [
    ("{not json", "bad_json"),
    (json.dumps({"jpeg_blob": "%%% not base64 %%%"}), "bad_base64"),
    (b"\x00\x01 definitely not an image", "not_an_image"),
    (_bomb_jpeg(), "image_too_large"),
    (json.dumps({"jpeg_blob": 42}), "bad_message"),
    (json.dumps([1, 2, 3]), "bad_message"),
    (json.dumps({"type": "hello"}), "unknown_message"),
    (json.dumps({"type": "reset", "target": "?"}), "bad_target"),
    (json.dumps({"type": "landmarks", "landmarks": []}), "wrong_input"),
    (photo("B")[: len(photo("B")) // 2], "truncated_image"),
]


@pytest.mark.parametrize(("message", "code"), BAD_INPUTS, ids=[c for _, c in BAD_INPUTS])
def test_bad_input_gets_its_error_and_the_next_good_frame_still_works(message, code, letter_photo):
    letter, jpeg = letter_photo

    async def scenario() -> None:
        async with (
            running_service() as service,
            client(service) as bystander,
            client(service) as ws,
        ):
            await ws.send(message)
            error = await receive_json(ws)
            good = await letters_for(ws, jpeg, 3)
            other = await letters_for(bystander, jpeg, 3)
        assert error["error"]["code"] == code and error["error"]["message"]
        assert good[-1]["letter"] == letter
        assert other[-1]["letter"] == letter

    run(scenario)


def test_an_oversized_message_closes_with_1009_and_other_sessions_go_on(letter_photo):
    letter, jpeg = letter_photo

    async def scenario() -> None:
        async with (
            running_service(max_message_bytes=64_000) as service,
            client(service) as bystander,
            client(service) as ws,
        ):
            await ws.send(b"\xff" * 100_000)
            with pytest.raises(ConnectionClosed) as closed:
                await receive_json(ws)
            other = await letters_for(bystander, jpeg, 3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert other[-1]["letter"] == letter

    run(scenario)


def test_health_ready_and_metrics_are_served_on_both_ports(letter_photo):
    async def scenario() -> None:
        async with running_service() as service:
            async with client(service) as ws:
                await letters_for(ws, letter_photo[1], 1)
            results = {
                (port, path): await aget(port, path)
                for port in (service.ws_port, service.health_port)
                for path in ("/health", "/ready")
            }
            metrics = await aget(service.health_port, "/metrics")
        for (_, path), (status, body) in results.items():
            assert status == 200
            data = json.loads(body)
            if path == "/health":
                assert data["status"] == "healthy" and data["service"] == "signify-backend"
                assert data["pipeline"]["name"] == "default"
                assert len(data["models"]["classify"]["sha256"]) == 64
                assert data["models"]["hands"]["bundle"].endswith("hand_landmarker_full.task")
            else:
                assert data["ready"] is True
        text = metrics[1].decode()
        for name in (
            "signify_sessions",
            "signify_frames_received_total",
            "signify_frames_dropped_total",
            "signify_stage_seconds_bucket",
            "signify_event_loop_lag_seconds_bucket",
            "process_resident_memory_bytes",
        ):
            assert name in text

    run(scenario)


def test_sessions_beyond_the_maximum_are_refused_at_the_handshake():
    async def scenario() -> None:
        async with running_service(max_sessions=1) as service, client(service):
            with pytest.raises(InvalidStatus) as refused:
                async with client(service):
                    pass
        assert refused.value.response.status_code == 503
        assert b"server_full" in refused.value.response.body

    run(scenario)


def test_a_bearer_token_is_required_when_configured():
    async def scenario() -> None:
        async with running_service(token="s3cret") as service:
            with pytest.raises(InvalidStatus) as refused:
                async with client(service):
                    pass
            async with client(service, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
                await ws.send(json.dumps({"type": "reset", "target": None}))
                ack = await receive_json(ws)
        assert refused.value.response.status_code == 401
        assert ack["ack"] == "reset"

    run(scenario)


def test_a_client_over_the_rate_cap_is_told_and_keeps_its_connection(letter_photo):
    letter, jpeg = letter_photo

    async def scenario() -> None:
        async with (
            running_service(max_messages_per_second=5, rate_burst=2) as service,
            client(service) as ws,
        ):
            for _ in range(6):
                await ws.send(json.dumps({"type": "reset", "target": None}))
            codes = [await receive_json(ws) for _ in range(6)]
            await asyncio.sleep(0.5)
            await ws.send(jpeg)
            reply = await next_reply(ws)
        assert sum(1 for c in codes if c.get("error", {}).get("code") == "rate_limited") >= 3
        assert reply["letter"] == letter

    run(scenario)


def test_a_drain_delay_keeps_sessions_served_while_not_ready_until_a_second_signal():
    """SIGNIFY_DRAIN_DELAY: /ready is 503 and newcomers are refused at once, the open session
    is still answered, and it is closed with 1001 only when the delay is cut short."""
    frame = json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS})

    async def scenario() -> tuple[int, dict[str, Any], int | None]:
        async with (
            running_service(
                "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, drain_delay=600
            ) as service,
            client(service) as ws,
        ):
            await ws.send(frame)
            await next_reply(ws)
            draining = asyncio.create_task(service.drain())
            while (await aget(service.ws_port, "/ready"))[0] != 503:  # at once, in fact
                await asyncio.sleep(0.05)
            with pytest.raises(InvalidStatus) as refused:
                async with client(service):
                    pass
            await ws.send(frame)
            reply = await next_reply(ws)
            service.hurry.set()  # what a second SIGTERM does
            await ws.wait_closed()
            await draining
            return refused.value.response.status_code, reply, ws.close_code

    refused, reply, code = asyncio.run(scenario())
    assert refused == 503 and "letter" in reply and code == 1001
