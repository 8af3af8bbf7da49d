"""``signify-graph loadtest`` as the capacity figures use it: its own process, real clients, a
real server, and a summary that counts what happened (including what went wrong)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from ..service.conftest import EVERY_LANDMARK_FRAME, ROOT, running_service

pytestmark = pytest.mark.slow


async def loadtest(*args: str) -> tuple[int, dict[str, Any]]:
    """Run the CLI in a thread, so this event loop keeps serving; its exit code and summary."""
    command = [sys.executable, "-m", "signify_graph.cli", "loadtest", *args, "--json"]
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return done.returncode, json.loads(done.stdout)


def test_every_landmark_frame_is_sent_answered_and_timed_and_the_server_is_read():
    async def scenario() -> tuple[int, dict[str, Any]]:
        async with running_service("pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME) as service:
            return await loadtest(
                f"ws://127.0.0.1:{service.ws_port}/",
                *("--metrics", f"http://127.0.0.1:{service.health_port}/metrics"),
                *("--clients", "3", "--fps", "15", "--duration", "2", "--ramp", "0"),
                *("--source", "training/data/roboflow_valid.npz"),
            )

    code, summary = asyncio.run(scenario())
    assert code == 0
    assert summary["clients"] == 3 and not summary["failed_clients"] and not summary["errors"]
    assert 80 <= summary["sent"] <= 93  # 3 clients × 15 fps × 2 s, on a fixed schedule
    assert summary["answered"] == summary["sent"] and summary["unanswered"] == 0
    first, latency = summary["first_answer_ms"], summary["latency_ms"]
    assert 0 < first["p50"] <= first["max"] <= latency["max"] + 1.0
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] < 1000
    assert summary["server_dropped"] == 0
    assert summary["server_before"]["rss_mb"] > 50  # read from the server's own /metrics
    assert summary["server"] and all("loop_lag_max_ms" in s for s in summary["server"])


def test_clients_the_server_refuses_are_reported_and_the_exit_code_says_so():
    async def scenario() -> tuple[int, dict[str, Any]]:
        async with running_service(
            "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, max_sessions=1
        ) as service:
            return await loadtest(
                f"ws://127.0.0.1:{service.ws_port}/",
                *("--clients", "3", "--fps", "15", "--duration", "1", "--ramp", "0.3"),
                *("--source", "training/data/roboflow_valid.npz"),
            )

    code, summary = asyncio.run(scenario())
    assert code == 1
    assert len(summary["failed_clients"]) == 2
    assert all("503" in failure for failure in summary["failed_clients"])
    assert summary["answered"] == summary["sent"] > 0  # the one admitted client was served


def test_photo_frames_are_answered_through_the_image_pipeline():
    async def scenario() -> tuple[int, dict[str, Any]]:
        async with running_service("pipelines/fast.yaml") as service:
            return await loadtest(
                f"ws://127.0.0.1:{service.ws_port}/",
                *("--clients", "1", "--fps", "10", "--duration", "2", "--ramp", "0"),
                *("--metrics", f"http://127.0.0.1:{service.health_port}/metrics"),
            )

    code, summary = asyncio.run(scenario())
    assert code == 0 and not summary["errors"] and not summary["failed_clients"]
    # A session's first frame takes longest (MediaPipe's first detection), so newest-frame-wins
    # may replace a frame or two behind it; the rest are answered.
    assert summary["sent"] >= 18 and summary["answered"] >= summary["sent"] - 3
