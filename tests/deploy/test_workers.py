"""``serve --workers 2`` as operators run it: real processes sharing one port (SO_REUSEPORT),
real clients and landmark frames, a worker killed, SIGTERM to the supervisor."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import (
    HEALTH,
    LISTENING,
    WORKER_READY,
    Running,
    answered_clients,
    free_port,
    get,
    metric,
    serve,
)

pytestmark = pytest.mark.slow
CLIENTS = 16


class Workers:
    """A running ``serve --workers 2``: its process, ports and worker pids."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.port = int(running.wait_for(LISTENING).group(1))
        self.health_port = int(running.wait_for(HEALTH).group(1))
        _, health = get(self.health_port, "/health")
        self.pids = {w["worker"]: w["pid"] for w in health["workers"]}

    def sessions_by_pid(self) -> dict[int, float]:
        _, text = get(self.health_port, "/metrics")
        samples = metric(text, "signify_worker_sessions")
        return {int(labels.split('"')[1]): value for labels, value in samples.items()}


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    running = serve("--workers", "2", env={"HEALTH_PORT": "0"})
    try:
        yield Workers(running)
    finally:
        running.stop()


def test_every_client_is_answered_and_the_clients_land_on_both_workers(workers: Workers):
    async def scenario() -> tuple[dict[int, float], float, tuple[int, object]]:
        clients = await answered_clients(workers.port, CLIENTS)
        try:
            by_pid = workers.sessions_by_pid()
            total = metric(get(workers.health_port, "/metrics")[1], "signify_sessions")[""]
            return by_pid, total, get(workers.port, "/ready")
        finally:
            await asyncio.gather(*(ws.close() for ws in clients))

    by_pid, total, (status, ready) = asyncio.run(scenario())
    assert set(by_pid) == set(workers.pids.values())
    assert all(count > 0 for count in by_pid.values()), by_pid
    assert sum(by_pid.values()) == total == CLIENTS
    # The WebSocket port's /ready is the ready-ness of the worker that took the request.
    assert status == 200 and ready["worker"] in workers.pids


def test_the_health_port_reports_every_worker_and_the_total_capacity(workers: Workers):
    status, health = get(workers.health_port, "/health")
    assert status == 200 and health["phase"] == "ready"
    assert [(w["worker"], w["ready"]) for w in health["workers"]] == [(0, True), (1, True)]
    status, ready = get(workers.health_port, "/ready")
    assert status == 200 and ready["workers_ready"] == 2
    text = get(workers.health_port, "/metrics")[1]
    assert metric(text, "signify_max_sessions") == {"": 2 * 64.0}
    assert set(metric(text, "signify_process_threads")) == {
        f'{{pid="{pid}"}}' for pid in workers.pids.values()
    }


def test_a_killed_worker_is_restarted_and_new_clients_are_answered(workers: Workers):
    lines = len(workers.running.lines)
    killed = workers.pids[1]
    os.kill(killed, signal.SIGKILL)
    workers.running.wait_for(
        re.compile(rf"worker 1 \(pid {killed}\) was killed by SIGKILL; restarting"), lines
    )
    ready = workers.running.wait_for(WORKER_READY, lines)
    assert ready.group(1) == "1" and int(ready.group(2)) != killed
    workers.pids[1] = int(ready.group(2))

    async def scenario() -> dict[int, float]:
        clients = await answered_clients(workers.port, CLIENTS)
        try:
            return workers.sessions_by_pid()
        finally:
            await asyncio.gather(*(ws.close() for ws in clients))

    by_pid = asyncio.run(scenario())
    # The dead worker is gone from the live gauges; the new one took clients.
    assert killed not in by_pid and set(by_pid) == set(workers.pids.values())
    assert sum(by_pid.values()) == CLIENTS


def test_sigterm_to_the_supervisor_drains_every_worker_and_exits_0():
    running = serve("--workers", "2", env={"HEALTH_PORT": "0", "SIGNIFY_DRAIN_TIMEOUT": "10"})
    try:
        service = Workers(running)

        async def scenario() -> list[int | None]:
            clients = await answered_clients(service.port, CLIENTS)
            by_pid = service.sessions_by_pid()
            assert len(by_pid) == 2 and all(count > 0 for count in by_pid.values()), by_pid
            running.process.send_signal(signal.SIGTERM)
            for ws in clients:
                await ws.wait_closed()
            return [ws.close_code for ws in clients]

        codes = asyncio.run(scenario())
        # Within the drain timeout and a margin for a loaded machine.
        assert running.process.wait(timeout=10 + 30) == 0
    finally:
        running.stop()
    assert codes == [1001] * CLIENTS
    assert any("draining 2 workers" in line for line in running.lines)


def test_a_model_that_does_not_load_stops_the_supervisor_with_one_line(tmp_path: Path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(bytes(range(256)) * 16)
    running = serve("--workers", "2", "--set", f"classify.model={corrupt}")
    code = running.process.wait(timeout=60)
    running.stop()
    lines = [line for line in running.lines if line.strip()]
    assert code != 0 and len(lines) == 1, lines
    assert "cannot load ONNX model" in lines[0]


def test_an_invalid_pipeline_stops_the_supervisor_before_any_worker_starts(tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nnodes:\n  - id: decode\n    stage: decod\n")
    running = Running(
        [sys.executable, "-m", "signify_graph.cli", "serve", str(broken), "--workers", "2"],
        {"PORT": "0", "HEALTH_PORT": "-1", "WEBSOCKET_HOST": "127.0.0.1"},
    )
    code = running.process.wait(timeout=60)
    running.stop()
    lines = [line for line in running.lines if line.strip()]
    assert code != 0 and len(lines) == 1, lines
    assert "did you mean 'decode'" in lines[0]


def test_with_one_port_for_all_any_worker_answers_metrics_of_every_worker():
    """Railway's one port (PORT = HEALTH_PORT): /metrics there, from whichever worker the
    request reaches, holds every worker's sessions."""
    port = free_port()
    running = serve("--workers", "2", env={"PORT": str(port), "HEALTH_PORT": str(port)})
    try:
        running.wait_for(LISTENING)

        async def scenario() -> list[dict[str, float]]:
            clients = await answered_clients(port, CLIENTS)
            try:
                scrapes = [get(port, "/metrics")[1] for _ in range(4)]
                return [metric(text, "signify_worker_sessions") for text in scrapes]
            finally:
                await asyncio.gather(*(ws.close() for ws in clients))

        scrapes = asyncio.run(scenario())
    finally:
        running.stop()
    for by_pid in scrapes:
        assert len(by_pid) == 2 and sum(by_pid.values()) == CLIENTS, by_pid
