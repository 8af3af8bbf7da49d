"""Two replicas behind a real HAProxy, configured by the shipped ``deploy/haproxy.cfg``: the
clients spread over both and are all answered, and a replica sent SIGTERM leaves the rotation
before its sessions close."""

from __future__ import annotations

import asyncio
import csv
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ..service.conftest import ROOT
from .processes import (
    FRAME,
    LISTENING,
    WAIT,
    Running,
    answered_clients,
    free_port,
    get,
    serve,
    still_answered,
    until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed"),
]
CONFIG = ROOT / "deploy" / "haproxy.cfg"


class Balancer:
    """HAProxy on a free port in front of two ``serve`` replicas."""

    def __init__(self, folder: Path) -> None:
        # Long enough never to end during the test; a second SIGTERM cuts it short.
        env = {"SIGNIFY_DRAIN_DELAY": "600", "SIGNIFY_TRUST_FORWARDED_FOR": "1"}
        self.replicas = [serve("--workers", "1", env=env) for _ in range(2)]
        self.admin = folder / "admin.sock"
        self.port = free_port()
        self.haproxy: Running | None = None
        self.ports: list[int] = []

    def start(self) -> None:
        self.ports = [int(r.wait_for(LISTENING).group(1)) for r in self.replicas]
        self.haproxy = Running(
            ["haproxy", "-db", "-f", str(CONFIG)],
            {
                "SIGNIFY_LB_BIND": f"127.0.0.1:{self.port}",
                "SIGNIFY_REPLICA_1": f"127.0.0.1:{self.ports[0]}",
                "SIGNIFY_REPLICA_2": f"127.0.0.1:{self.ports[1]}",
                "SIGNIFY_LB_ADMIN": str(self.admin),
            },
        )
        until(lambda: self.status() == {"r1": "UP", "r2": "UP"}, "both replicas UP")

    def status(self) -> dict[str, str]:
        """What HAProxy's health checks say of each replica (its admin socket's ``show stat``)."""
        if not self.admin.exists():
            assert self.haproxy is not None and self.haproxy.process.poll() is None, "".join(
                self.haproxy.lines if self.haproxy else []
            )
            return {}
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.admin))
            sock.sendall(b"show stat\n")
            data = b"".join(iter(lambda: sock.recv(65536), b""))
        rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
        servers = (r for r in rows if r["pxname"] == "replicas" and r["svname"] != "BACKEND")
        return {r["svname"]: r["status"] for r in servers}

    def sessions(self) -> list[int]:
        return [get(port, "/health")[1]["sessions"] for port in self.ports]

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.stop()
        for replica in self.replicas:
            replica.stop()


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[Balancer]:
    running = Balancer(tmp_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_clients_through_haproxy_spread_over_both_replicas_and_are_all_answered(
    balancer: Balancer,
):
    async def scenario() -> list[int]:
        clients = await answered_clients(balancer.port, 12)
        try:
            return balancer.sessions()
        finally:
            await asyncio.gather(*(ws.close() for ws in clients))

    sessions = asyncio.run(scenario())
    assert sum(sessions) == 12 and min(sessions) > 0, sessions


def test_a_draining_replica_leaves_the_rotation_before_its_sessions_close(balancer: Balancer):
    first = balancer.replicas[0]

    async def fate(ws: ClientConnection) -> int | str | None:
        """``answered``, or the close code once the connection is gone."""
        try:
            await ws.send(FRAME)
            await asyncio.wait_for(ws.recv(), WAIT)
        except ConnectionClosed:
            return ws.close_code
        return "answered"

    async def scenario() -> tuple[list[int], list[int], list[int | str | None]]:
        old = await answered_clients(balancer.port, 6)
        before = balancer.sessions()
        assert min(before) > 0, before
        first.process.send_signal(signal.SIGTERM)
        ready = lambda: get(balancer.ports[0], "/ready")[0] == 503  # noqa: E731
        await asyncio.to_thread(until, ready, "replica 1 not ready")
        # Whether HAProxy has noticed yet or not, a newcomer is answered (a 503 from the
        # draining replica is retried on the other one) ...
        early = await answered_clients(balancer.port, 3)
        down = lambda: balancer.status().get("r1") == "DOWN"  # noqa: E731
        await asyncio.to_thread(until, down, "replica 1 out of rotation")
        late = await answered_clients(balancer.port, 3)
        after = balancer.sessions()
        # ... the draining replica's sessions are all still open and answered ...
        await still_answered(old)
        # ... until it closes them (a second SIGTERM: the drain delay is over) and exits.
        first.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.process.wait, WAIT) == 0
        fates = [await fate(ws) for ws in old]
        await still_answered(early + late)
        await asyncio.gather(*(ws.close() for ws in old + early + late))
        return before, after, fates

    before, after, fates = asyncio.run(scenario())
    assert after == [before[0], before[1] + 6]
    assert sorted(fates, key=str) == sorted([1001] * before[0] + ["answered"] * before[1], key=str)
