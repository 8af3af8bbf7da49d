"""A busy server is not a broken one: a frame that waits for a free worker has not hung, and a
storm of new connections does not starve the sessions already streaming."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import client, next_reply, photo, receive_json, running_service
from .test_hostile import _fault_service, _solid_jpeg, _stream


def test_a_frame_waiting_for_a_worker_is_not_past_its_deadline(tmp_path):
    """One worker thread, a 1 s deadline, two sessions whose frames take 0.6 s each: the second
    of them and a third session's quick frame wait 0.6 and 1.2 s for the worker, and all three
    are answered. The deadline times the stages, not the queue in front of them."""

    async def scenario() -> list[dict[str, Any]]:
        async with (
            _fault_service(tmp_path, workers=1, frame_deadline_ms=1000) as service,
            client(service) as first,
            client(service) as second,
            client(service) as third,
        ):
            await first.send(_solid_jpeg(64))
            await second.send(_solid_jpeg(64))
            await asyncio.sleep(0.1)
            await third.send(_solid_jpeg(0))
            return [await receive_json(ws) for ws in (first, second, third)]

    replies = asyncio.run(scenario())
    assert [r.get("status") for r in replies] == ["no_hand"] * 3, replies


@pytest.mark.slow
def test_a_storm_of_new_connections_leaves_open_sessions_streaming():
    """Two sessions stream at 15 fps while 30 clients connect at once, send a frame each and
    leave a second after their answer. The two keep every frame answered (newest-frame-wins may
    replace a few) and stay connected, and every newcomer is answered. Making and closing the
    newcomers' landmarkers on the frame workers used to stall the open sessions past the frame
    deadline, which closed them (now and then MediaPipe holds closes for 5 s)."""
    jpeg = photo("B")
    seconds, fps = 9.0, 15

    async def newcomer(service: Any) -> dict[str, Any]:
        async with client(service, open_timeout=30) as ws:
            await ws.send(jpeg)
            reply = await next_reply(ws, timeout=30)
            await asyncio.sleep(1.0)
            return reply

    async def storm(service: Any) -> list[dict[str, Any]]:
        await asyncio.sleep(1.0)
        return list(await asyncio.gather(*(newcomer(service) for _ in range(30))))

    async def scenario() -> tuple[list[list[float]], list[dict[str, Any]], list[Any]]:
        async with running_service() as service, client(service) as a, client(service) as b:
            for ws in (a, b):  # their sessions' first frames, before the clock starts
                await ws.send(jpeg)
                await next_reply(ws)
            streams = asyncio.gather(_stream(a, seconds, fps, jpeg), _stream(b, seconds, fps, jpeg))
            answers = await storm(service)
            latencies = await streams
            return list(latencies), answers, [a.close_code, b.close_code]

    latencies, answers, close_codes = asyncio.run(scenario())
    assert close_codes == [None, None]
    sent = int(seconds * fps)
    assert all(len(stream) >= sent - 3 for stream in latencies), [len(s) for s in latencies]
    assert all("error" not in reply and reply.get("status") for reply in answers), answers
