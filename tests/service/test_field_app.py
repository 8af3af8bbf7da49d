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
from .test_contract import check_server_message

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
    assert summary["undefinedShown"] == 0, summary  # the ack carries the app's field too


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


# -- word mode -------------------------------------------------------------------------------
#: A word with no double letter whose letters have photos the shipped model reads held, at
#: ≥ 0.9 (B's first, A's third, D's first; eval on tests/data/photos reads B, A, D 3/3 each).
WORD = "BAD"
WORD_PHOTOS = [photo_path("B", 0), photo_path("A", 2), photo_path("D", 0)]
#: Frames of each photo, one every 100 ms: the 5-frame smoothing turns to the next letter in
#: about 5 frames, then the spell stage's 600 ms hold at ≥ 0.6; the rest is margin for frames
#: a loaded server drops (newest frame wins).
TICKS = 16


@pytest.mark.parametrize("path", APP_PATHS)
def test_the_app_spells_its_target_word_from_real_photos_and_sees_it_complete_once(
    app_client, path
):
    """Word mode as the app plays it: ``new_word``, then frames every 100 ms (no target
    letter) of B, A, D held in turn; the app must see the word in ``detected_word_letter``
    with ``target_word_prob`` above its own threshold (0.75) twice in a row; ``word_complete``
    comes once, in a reply whose probability passes 0.5, and never again while the photos go
    on. Every message received matches the schemas."""

    async def scenario() -> dict[str, Any]:
        async with running_service(overrides=[]) as service:
            return await run_app(
                app_client,
                url=f"ws://127.0.0.1:{service.ws_port}{path}",
                photos=WORD_PHOTOS,
                ticks=TICKS,
                word=WORD.lower(),
                expect=WORD,
                threshold=0.75,
                lingerMs=2000,
                timeoutMs=40000,
                keep=True,
            )

    summary = asyncio.run(scenario())
    assert summary["ok"] and summary["exit"] == 0, {k: v for k, v in summary.items() if k != "kept"}
    assert summary["last"] == {"shown": WORD, "prob": 1.0}
    assert summary["completions"] == 1 and summary["completeProb"] > 0.5
    assert summary["undefinedShown"] == 0
    kept = summary["kept"]
    assert kept[0] == {
        "ack": "reset",
        "target": None,
        "word": WORD,
        "detected_word_letter": "",
        "maxarg_word": "",
        "target_word_prob": 0.0,
    }
    for message in kept:
        check_server_message(message)
    replies = [m for m in kept if "ack" not in m]
    shown = [m["detected_word_letter"] for m in replies]
    assert {"", "B", "BA", WORD} <= set(shown), shown  # the word grows letter by letter
    assert all("target_lettr_prob" not in m and m["target_word"] == WORD for m in replies)


def test_the_app_never_sees_a_word_that_is_spelled_in_another_order(app_client):
    """The check above can fail: D, A, B spells DAB, which is not BAD; the probability stays 0."""

    async def scenario() -> dict[str, Any]:
        async with running_service(overrides=[]) as service:
            return await run_app(
                app_client,
                url=f"ws://127.0.0.1:{service.ws_port}/",
                photos=WORD_PHOTOS[::-1],
                ticks=TICKS,
                word=WORD,
                expect=WORD,
                timeoutMs=5000,
            )

    summary = asyncio.run(scenario())
    assert not summary["ok"] and summary["exit"] == 1, summary
    assert summary["completions"] == 0 and summary["last"]["prob"] == 0.0, summary
    assert summary["last"]["shown"].startswith("D"), summary
