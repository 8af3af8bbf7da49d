"""An idle session is closed: a client that sends nothing for ``SIGNIFY_IDLE_TIMEOUT`` seconds
(an app left open on another screen) gives back its landmarker and its place under
``SIGNIFY_MAX_SESSIONS``; a client that keeps sending is never touched."""

from __future__ import annotations

import asyncio
import json

import pytest

from .conftest import client, next_reply, photo, receive_json, run, running_service
from .test_service import aget

pytestmark = pytest.mark.slow


def test_a_silent_client_is_closed_after_the_idle_timeout_and_a_sending_one_is_not():
    async def scenario() -> None:
        async with (
            running_service(idle_timeout=0.5) as service,
            client(service) as silent,
            client(service) as busy,
        ):
            # ~1.3 s, over two idle timeouts, a message every 0.1 s (a reset: answered at
            # once, so a loaded machine's frame latency cannot make the client look idle)
            for _ in range(13):
                await busy.send(json.dumps({"type": "reset"}))
                assert (await receive_json(busy))["ack"] == "reset"
                await asyncio.sleep(0.1)
            await asyncio.wait_for(silent.wait_closed(), 5)
            assert (silent.close_code, silent.close_reason) == (1000, "no message for 0.5 s")
            assert busy.close_code is None
            metrics = (await aget(service.health_port, "/metrics"))[1].decode()
            assert "signify_sessions_closed_idle_total 1.0" in metrics

    run(scenario)


def test_an_idle_timeout_of_zero_never_closes():
    async def scenario() -> None:
        async with running_service(idle_timeout=0) as service, client(service) as silent:
            await asyncio.sleep(0.5)
            assert silent.close_code is None
            await silent.send(photo("B"))
            assert (await next_reply(silent))["letter"]

    run(scenario)
