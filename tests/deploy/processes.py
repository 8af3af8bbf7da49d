"""Real processes for the scale-out tests: ``serve`` (one process or ``--workers``), HAProxy,
and landmark clients that talk to them over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from ..service.conftest import EVERY_LANDMARK_FRAME, REAL_LANDMARKS, ROOT

LISTENING = re.compile(r"Server listening on ws://[^:]+:(\d+)")
#: The supervisor's HEALTH_PORT (each worker announces the WebSocket port's too).
HEALTH = re.compile(r"supervisor: Health check endpoint available at http://[^:]+:(\d+)/health")
WORKER_READY = re.compile(r"worker (\d+) ready \(pid (\d+)\)")
FRAME = json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS})
#: Generous: a loaded machine takes its time to load models and answer.
WAIT = 90.0


class Running:
    """A process whose stderr a thread reads into ``lines`` (a full pipe would stall it)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], after: int = 0) -> re.Match[str]:
        """The first line from line ``after`` on that matches (the process's own output is the
        event: no sleeping)."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if match := pattern.search(line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"no {pattern.pattern!r} in:\n" + "".join(self.lines))
                self._changed.wait(left)

    def stop(self) -> int:
        """Kill the process if it still runs; its exit code."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        return code


def serve(*args: str, env: dict[str, str] | None = None) -> Running:
    """``signify-graph serve ARGS`` on 127.0.0.1, every landmark frame answered, no limit per
    address (every client here is 127.0.0.1)."""
    command = [sys.executable, "-m", "signify_graph.cli", "serve", "pipelines/landmarks.yaml"]
    for override in EVERY_LANDMARK_FRAME:
        command += ["--set", override]
    environment = {
        "PORT": "0",
        "HEALTH_PORT": "-1",
        "WEBSOCKET_HOST": "127.0.0.1",
        "SIGNIFY_MAX_SESSIONS_PER_PEER": "0",
        **(env or {}),
    }
    return Running([*command, *args], environment)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, Any]:
    """Status and body (JSON, or text for /metrics) of a GET on 127.0.0.1."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    return status, (body if path == "/metrics" else json.loads(body))


def until(check: Callable[[], bool], what: str) -> None:
    """Ask ``check`` until it holds (for state only another process knows)."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def metric(text: str, name: str) -> dict[str, float]:
    """The samples of ``name`` in an exposition, by their label text (``""``: none)."""
    pattern = re.compile(rf"^{name}(\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return {labels or "": float(value) for labels, value in pattern.findall(text)}


async def answered_clients(port: int, count: int) -> list[ClientConnection]:
    """``count`` clients connected at once, each answered with a letter reply to a real
    landmark frame; still open, for the caller to close."""

    async def one() -> ClientConnection:
        ws = await connect(f"ws://127.0.0.1:{port}/", compression=None, open_timeout=WAIT)
        await ws.send(FRAME)
        reply = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert reply.get("status") in ("ok", "warming_up") and "letter" in reply, reply
        return ws

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def still_answered(clients: list[ClientConnection]) -> None:
    """Each of ``clients`` sends one more frame and gets its reply."""
    for ws in clients:
        await ws.send(FRAME)
    for ws in clients:
        reply = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert "letter" in reply, reply
