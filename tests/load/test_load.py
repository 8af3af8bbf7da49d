"""Load scenarios on a real server: many clients at once, with bounds on time.

They check that the scheduling rules hold up under real load, with MediaPipe, on this
machine; the rules themselves (newest frame wins, fair share, rate limit, flood cut-off,
opening while reading) are unit tests of the session core in
``tests/service/test_session.py``. Each scenario takes 10-20 s and leans on the machine's
speed, so they live apart from the service's behaviour tests.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from ..service.conftest import client, next_reply, photo, running_service, stream

pytestmark = pytest.mark.slow


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
        # 32 clients from one address: a room of phones behind one NAT, for which the
        # per-address limits must be raised (here: off).
        limits = {"max_sessions_per_peer": 0, "peer_rate_limit": 0}
        async with (
            running_service(**limits) as service,
            client(service) as a,
            client(service) as b,
        ):
            for ws in (a, b):  # their sessions' first frames, before the clock starts
                await ws.send(jpeg)
                await next_reply(ws)
            streams = asyncio.gather(stream(a, seconds, fps, jpeg), stream(b, seconds, fps, jpeg))
            answers = await storm(service)
            latencies = await streams
            return list(latencies), answers, [a.close_code, b.close_code]

    latencies, answers, close_codes = asyncio.run(scenario())
    assert close_codes == [None, None]
    sent = int(seconds * fps)
    # Streaming on: at most 5 % of a stream's frames replaced by newer ones (newest frame
    # wins) while the storm's 30 sessions start; a saturated 2-core machine lost 4 of 135.
    assert all(len(stream) >= 0.95 * sent for stream in latencies), [len(s) for s in latencies]
    assert all("error" not in reply and reply.get("status") for reply in answers), answers


def test_a_flood_from_one_client_barely_touches_the_others():
    """200 messages/s from one client while two others stream at 15 fps: the flood is mostly
    refused by the per-session rate cap (it sees ``rate_limited``), the others get every
    frame answered, and their p95 does not grow a queue. The issue's finer goal (p95 within
    10 %) is a speed figure, measured by ``benchmarks/capacity flood`` with the clients in
    their own process (here they share the server's, which inflates the flood's cost); a
    timed bound that tight makes a flaky test on a shared 2-core machine."""
    jpeg = photo("B")

    async def flood(ws: Any, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        count = 0
        while loop.time() - start < seconds:
            await ws.send(jpeg)
            count += 1
            await asyncio.sleep(max(0.0, start + count / 200 - loop.time()))

    async def others(a: Any, b: Any, seconds: float) -> list[float]:
        results = await asyncio.gather(stream(a, seconds, 15, jpeg), stream(b, seconds, 15, jpeg))
        return [x for r in results for x in r]

    async def scenario() -> tuple[list[float], list[float]]:
        quiet: list[float] = []
        loud: list[float] = []
        # The same two bystanders throughout: a new session's first frame (a landmarker's first
        # detection, perhaps a second landmarker for right_hand) takes 100-200 ms, long enough
        # for newest-frame-wins to replace its second frame, and that is not the flood's doing.
        async with running_service() as service, client(service) as a, client(service) as b:
            await others(a, b, 1.0)  # warm-up
            # Alternate quiet and flooded phases, so drifting background load hits both alike.
            for _ in range(3):
                quiet += await others(a, b, 2.5)
                async with client(service) as flooder:
                    drain = asyncio.create_task(_drain(flooder))
                    flooding = asyncio.create_task(flood(flooder, 2.7))
                    loud += await others(a, b, 2.5)
                    await flooding
                    drain.cancel()
        return quiet, loud

    refused = []

    async def _drain(ws: Any) -> None:
        async for raw in ws:
            if json.loads(raw).get("error", {}).get("code") == "rate_limited":
                refused.append(raw)

    quiet_all, loud_all = asyncio.run(scenario())
    quiet, loud = (float(np.percentile(x, 95)) for x in (quiet_all, loud_all))
    print(f"p95 alone {quiet:.2f} ms, under flood {loud:.2f} ms")
    assert len(refused) > 3 * 2.7 * 100  # well over half of the ~1,600 flood messages
    # Every frame of the others answered, flood or not — but for newest-frame-wins, which may
    # supersede a frame when the shared machine stalls a client for > 66 ms (rare; by design).
    sent = 3 * 2 * int(2.5 * 15)
    assert len(quiet_all) >= sent - 2 and len(loud_all) >= sent - 2, (len(quiet_all), len(loud_all))
    # No queue behind the flooder (that would be hundreds of ms); see the docstring for 10 %.
    assert loud <= 3 * quiet + 20.0, f"p95 {quiet:.1f} ms alone, {loud:.1f} ms under a flood"
