"""The older mobile app against a real server on 127.0.0.1: the URLs it connects to, and (in
``tests/field_app/``) a Node client that behaves like it."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from .conftest import next_reply, photo, running_service

pytestmark = pytest.mark.slow

#: The app connects to the service URL with no path, or with ``/ws``.
APP_PATHS = ["/", "/ws"]


@pytest.mark.parametrize("path", APP_PATHS)
def test_the_websocket_answers_on_the_paths_the_app_connects_to(path):
    async def scenario() -> dict[str, Any]:
        async with running_service() as service:
            url = f"ws://127.0.0.1:{service.ws_port}{path}"
            async with connect(url, compression=None) as ws:
                blob = base64.b64encode(photo("B")).decode()
                await ws.send(json.dumps({"jpeg_blob": blob, "new_word_letter": None}))
                return await next_reply(ws)

    reply = asyncio.run(scenario())
    assert reply["detected_word_letter"] == "B"
