"""Fair sharing of the cores: frames beyond a session's fair rate wait for a free core, never
behind another session's frame, and a fast client on an idle server keeps its full rate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from signify_graph.service.fairshare import FairShare

from .conftest import client, dropped, next_reply, photo, run, running_service, stream
from .test_service import aget

pytestmark = pytest.mark.slow


def test_extra_frames_start_only_while_a_core_stays_free():
    share = FairShare(cores=3)
    assert share.has_room_for_extra
    share.started()
    assert share.has_room_for_extra  # one of three cores busy: two free
    share.started()
    assert not share.has_room_for_extra  # only one core left, and it is kept for the others
    woken: list[str] = []
    share.wait("a", lambda: woken.append("a"))
    share.wait("b", lambda: woken.append("b"))
    share.cancel("b")
    assert share.waiting == 1
    share.finished()
    assert woken == ["a"] and share.waiting == 0


def test_waiting_sessions_are_woken_oldest_first_while_there_is_room():
    share = FairShare(cores=2)
    share.started()
    woken: list[str] = []

    def resume(name: str) -> Any:
        def start() -> None:
            woken.append(name)
            share.started()  # the woken session starts its frame at once

        return start

    for name in ("first", "second"):
        share.wait(name, resume(name))
    share.finished()
    assert woken == ["first"]  # "first" now holds the only spare core
    share.finished()
    assert woken == ["first", "second"]


def test_one_core_runs_extra_frames_only_when_idle():
    share = FairShare(cores=1)
    assert share.has_room_for_extra
    share.started()
    assert not share.has_room_for_extra


def _metric(metrics: bytes, name: str) -> float:
    return sum(
        float(line.split()[-1])
        for line in metrics.decode().splitlines()
        if line.startswith(name) and not line.startswith(name + "_created")
    )


def test_a_client_above_the_fair_rate_keeps_its_full_rate_on_an_idle_server():
    jpeg = photo("B")

    async def scenario() -> None:
        async with running_service(fair_rate=2.0) as service, client(service) as ws:
            # the session's first frame (its landmarker's first detection) before the clock
            await ws.send(jpeg)
            await next_reply(ws)
            latencies = await stream(ws, 1.0, 15, jpeg)
            _, metrics = await aget(service.health_port, "/metrics")
        # 7.5 × the fair rate and nothing held back for a core: every frame answered, but for
        # newest-frame-wins when the shared machine stalls the client (the exact rule is
        # test_session.py::test_an_extra_frame_on_an_idle_server_starts_at_once).
        assert _metric(metrics, "signify_frames_deferred_total") == 0
        assert len(latencies) >= 14

    run(scenario)


def test_under_contention_extra_frames_wait_and_nothing_is_lost_or_starved():
    """Two clients at 15 fps with a fair rate of 1 frame/s: most frames are extra, so they
    wait while the other client's frame runs. Each client is still answered far above its
    fair rate, and every frame is either answered or replaced by a newer one (counted)."""
    jpeg = photo("B")

    async def scenario() -> None:
        async with running_service(fair_rate=1.0) as service:
            async with client(service) as a, client(service) as b:
                answered = await asyncio.gather(stream(a, 2.0, 15, jpeg), stream(b, 2.0, 15, jpeg))
            _, metrics = await aget(service.health_port, "/metrics")
        deferred = _metric(metrics, "signify_frames_deferred_total")
        assert deferred > 0, "frames of two busy sessions never overlapped"
        assert all(len(replies) > 2 * 1.0 * 5 for replies in answered)  # not starved
        assert sum(len(r) for r in answered) + dropped(metrics) == 2 * 30

    run(scenario)


def test_fair_sharing_can_be_turned_off():
    async def scenario() -> None:
        async with running_service(fair_rate=0) as service:
            assert service.share is None

    run(scenario)
