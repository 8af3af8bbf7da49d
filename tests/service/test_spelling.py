"""Spelling end to end: a real server on 127.0.0.1 port 0, a real websockets client, frames
of a committed photo held long enough to commit its letter, ``text`` edits, and a recording
of the session that ``signify-graph replay`` reproduces — text included — exactly."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from signify_graph.service.record import load_recording

from .conftest import ROOT, client, photo, receive_json, running_service
from .test_contract import check_server_message

pytestmark = pytest.mark.slow

LETTER = "B"  # a photo the default pipeline recognises (conftest's letter_photo)


async def hold(ws: Any, jpeg: bytes, until: str, seconds: float = 20.0) -> dict[str, Any]:
    """Send frames of one photo, one per reply, until a reply's ``text`` is ``until``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await ws.send(jpeg)
        reply = await receive_json(ws)
        check_server_message(reply)
        assert "error" not in reply, reply
        if reply["text"] == until:
            return reply
        await asyncio.sleep(0.03)  # about a camera's pace: the hold is timed in ms, not frames
    raise AssertionError(f"the text never became {until!r}")


async def edit(ws: Any, action: str, index: int) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "text", "action": action, "id": index}))
    ack = await receive_json(ws)
    check_server_message(ack)
    assert ack["ack"] == "text" and ack["id"] == index and ack["action"] == action
    return ack


def test_a_held_photo_spells_its_letter_and_delete_space_and_clear_edit_the_text(
    tmp_path: Path,
) -> None:
    jpeg = photo(LETTER)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        async with running_service(record_dir=tmp_path) as service, client(service) as ws:
            first = await hold(ws, jpeg, LETTER)
            assert first["committed"] == LETTER and first["pending"] is None
            for _ in range(15):  # held on: committed once, never twice
                await ws.send(jpeg)
                reply = await receive_json(ws)
                assert reply["text"] == LETTER and reply["committed"] == ""
            assert (await edit(ws, "delete", 1))["text"] == ""
            # The letter still held needs a fresh hold: pending first, then committed again.
            await ws.send(jpeg)
            again = await receive_json(ws)
            assert again["text"] == "" and again["pending"]["letter"] == LETTER
            await hold(ws, jpeg, LETTER)
            assert (await edit(ws, "space", 2))["text"] == LETTER + " "
            assert (await edit(ws, "clear", 3))["text"] == ""
            await ws.send(jpeg)
            seen["last"] = await receive_json(ws)

    asyncio.run(scenario())
    assert seen["last"]["text"] == ""
    (recorded,) = tmp_path.glob("*.jsonl")
    recording = load_recording(recorded)
    texts = [o.reply["text"] for o in recording.outcomes if o.reply]
    assert LETTER in texts and texts[-1] == ""
    assert [s[1] for s in recording.steps if s[0] == "edit"] == ["delete", "space", "clear"]
    done = subprocess.run(
        [sys.executable, "-m", "signify_graph.cli", "replay", str(recorded), "default", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["differences"] == []
