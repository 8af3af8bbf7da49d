"""A busy server is not a broken one: a frame that waits for a free worker has not hung. (A
storm of new connections: ``tests/load/``.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import client, receive_json
from .test_hostile import _fault_service, _solid_jpeg

pytestmark = pytest.mark.slow


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
