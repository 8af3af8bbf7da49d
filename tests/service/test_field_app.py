"""The older mobile app against a real server on 127.0.0.1: the URLs it connects to, and (in
``tests/field_app/``) a Node client that behaves like it."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from .conftest import PHOTOS, ROOT, next_reply, photo, running_service

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


# -- the app itself, in Node ---------------------------------------------------------------
FIELD_APP = ROOT / "tests" / "field_app"
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def app_client() -> Path:
    """The Node client, its ``ws`` package installed by ``npm ci`` (``scripts/install`` runs
    it; here too when it has not run and npm is there)."""
    if NODE is None:
        pytest.skip("node is not installed (scripts/install installs Debian's nodejs and npm)")
    if not (FIELD_APP / "node_modules" / "ws").is_dir():
        npm = shutil.which("npm")
        assert npm, "tests/field_app needs `npm ci --prefix tests/field_app` (scripts/install)"
        subprocess.run([npm, "ci", "--prefix", str(FIELD_APP)], check=True, timeout=300)
    return FIELD_APP / "app-client.mjs"


async def run_app(script: Path, **config: Any) -> dict[str, Any]:
    """Run the Node client with ``config``; its one-line JSON summary."""
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(script),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = out.decode().strip().splitlines()
    assert lines, f"the app client printed nothing: {err.decode()}"
    summary: dict[str, Any] = json.loads(lines[-1])
    summary["exit"] = process.returncode
    return summary


def photo_path(letter: str, index: int = 0) -> str:
    return str(sorted((PHOTOS / letter).glob("*.jpg"))[index])


@pytest.mark.parametrize("path", APP_PATHS)
@pytest.mark.parametrize("letter", ["B", "L"])
def test_the_app_sees_the_photos_letter_and_its_target_probability(app_client, path, letter):
    """Letter mode as the app plays it: the target is the photo's letter, frames every 100 ms
    without waiting; the app must see that letter, above 0.5, twice in a row."""

    async def scenario() -> dict[str, Any]:
        async with running_service(overrides=[]) as service:
            return await run_app(
                app_client,
                url=f"ws://127.0.0.1:{service.ws_port}{path}",
                photos=[photo_path(letter)],
                letter=letter,
                expect=letter,
                threshold=0.5,
            )

    summary = asyncio.run(scenario())
    assert summary["ok"] and summary["exit"] == 0, summary


def test_the_app_client_does_not_report_a_target_the_photo_does_not_show(app_client):
    """The check above can fail: photo B with target A is never a detection."""

    async def scenario() -> dict[str, Any]:
        async with running_service(overrides=[]) as service:
            return await run_app(
                app_client,
                url=f"ws://127.0.0.1:{service.ws_port}/",
                photos=[photo_path("B")],
                letter="A",
                expect="A",
                timeoutMs=3000,
            )

    summary = asyncio.run(scenario())
    assert not summary["ok"] and summary["exit"] == 1, summary
    assert summary["messages"] > 0 and summary["last"]["shown"] == "B", summary
