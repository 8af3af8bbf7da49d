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


def test_frames_a_landmark_server_refuses_stop_the_run_at_once_with_one_line():
    """Photos against a landmarks pipeline: every frame would be ``wrong_input``; the command
    says so after the first answer instead of after ``--duration`` (60 s here)."""

    async def scenario() -> subprocess.CompletedProcess[str]:
        async with running_service("pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME) as service:
            command = [sys.executable, "-m", "signify_graph.cli", "loadtest"]
            url = f"ws://127.0.0.1:{service.ws_port}/"
            return await asyncio.to_thread(
                subprocess.run,
                [*command, url, "--clients", "2", "--duration", "60", "--ramp", "0"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=50,  # far less than --duration: the run stopped early
            )

    done = asyncio.run(scenario())
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "refuses these messages" in lines[0] and "give --source a landmark .npz" in lines[0]


def test_the_summary_says_what_became_of_frames_without_a_reply():
    from signify_graph.tools.loadtest import render

    summary: dict[str, Any] = {
        "clients": 1,
        "fps": 15.0,
        "duration_s": 2.0,
        "url": "ws://127.0.0.1:1/",
        "sent": 30,
        "answered": 20,
        "unanswered": 10,
        "server_dropped": 4,
        "errors": {},
        "failed_clients": [],
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0},
        "server": [],
    }
    text = render(summary)
    assert "throttled (6: the emit stage replies only when the letter" in text
    assert "--set emit.min_interval_ms=0 --set emit.heartbeat_ms=1" in text
    assert "throttled" not in render({**summary, "answered": 30, "unanswered": 0})
