"""Real server replies, checked against the JSON Schemas of ``docs/schemas/``: what the
documentation promises a client is what a client gets, including the older app's names."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from .conftest import client, next_reply, photo, receive_json, run, running_service

pytestmark = pytest.mark.slow

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def check(name: str, message: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(message)


def legacy(letter: str, target: str | None) -> str:
    blob = base64.b64encode(photo(letter)).decode()
    return json.dumps({"jpeg_blob": blob, "new_word_letter": target})


def test_replies_acks_and_errors_match_their_schemas_and_carry_the_apps_names():
    async def scenario() -> None:
        async with running_service() as service, client(service) as ws:
            await ws.send(json.dumps({"jpeg_blob": None, "new_word_letter": "B"}))
            ack = await receive_json(ws)
            check("server-ack.json", ack)
            for _ in range(3):
                await ws.send(legacy("B", "B"))
                reply = await next_reply(ws)
                check("server-reply.json", reply)
            assert reply["detected_word_letter"] == reply["maxarg_letter"] == "B"
            assert reply["target_lettr_prob"] == reply["target_arg_prob"] > 0.5
            await ws.send("{not json")
            error = await receive_json(ws)
            check("server-error.json", error)

    run(scenario)


def test_a_reply_without_a_hand_names_no_letter_under_the_apps_name_either():
    async def scenario() -> dict[str, Any]:
        async with running_service() as service, client(service) as ws:
            blank = base64.b64encode(solid_jpeg()).decode()
            await ws.send(json.dumps({"jpeg_blob": blank, "new_word_letter": None}))
            return await next_reply(ws)

    reply = asyncio.run(scenario())
    check("server-reply.json", reply)
    assert reply["status"] == "no_hand"
    assert reply["detected_word_letter"] is None and reply["target_lettr_prob"] == 0.0


def solid_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (128, 128, 128)).save(out, "JPEG")
    return out.getvalue()


def test_a_bad_word_is_a_documented_error_that_harms_neither_its_session_nor_another():
    async def scenario() -> tuple[dict[str, Any], ...]:
        async with running_service() as service, client(service) as word, client(service) as other:
            await word.send(json.dumps({"jpeg_blob": None, "new_word": "bad"}))
            ack = await receive_json(word)
            await other.send(json.dumps({"jpeg_blob": None, "new_word_letter": "B"}))
            await receive_json(other)
            await word.send(json.dumps({"jpeg_blob": None, "new_word": "B4D", "id": 7}))
            error = await receive_json(word)
            await word.send(legacy("B", None))
            await other.send(legacy("B", "B"))
            return ack, error, await next_reply(word), await next_reply(other)

    ack, error, spelling, lettering = asyncio.run(scenario())
    check("server-ack.json", ack)
    assert ack == {
        "ack": "reset",
        "target": None,
        "word": "BAD",
        "detected_word_letter": "",
        "maxarg_word": "",
        "target_word_prob": 0.0,
    }
    check("server-error.json", error)
    assert error["error"]["code"] == "bad_word" and error["id"] == 7
    check("server-reply.json", spelling)
    assert spelling["target_word"] == "BAD" and spelling["detected_word_letter"] == ""
    assert "target_lettr_prob" not in spelling and spelling["word_complete"] is False
    check("server-reply.json", lettering)
    assert lettering["detected_word_letter"] == "B" and "target_word" not in lettering
