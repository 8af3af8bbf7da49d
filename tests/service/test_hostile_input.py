"""Hostile message contents against a real server: numbers no double holds, lone surrogates,
``data:`` URLs without a comma, strings where numbers belong. Each ends in its documented
reply or error, the connection stays open, and nothing is logged with a traceback
(issue #18, defects 5 and 7)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from .conftest import (
    EVERY_LANDMARK_FRAME,
    REAL_LANDMARKS,
    client,
    photo,
    receive_json,
    running_service,
)

#: A 5000-digit integer: past Python's 4300-digit limit for reading integers.
HUGE = "1" + "0" * 4999
#: A 1e400-sized integer: readable, but past any double.
BIG = "1" + "0" * 400
#: What ``json.dumps`` writes for the lone surrogate "\ud800".
LONE = '"\\ud800"'


def _landmarks(**fields: str) -> str:
    """A landmark message of real points; ``fields`` are raw JSON, spliced in unparsed."""
    text = json.dumps({"type": "landmarks", "landmarks": REAL_LANDMARKS})[:-1]
    return text + "".join(f', "{name}": {raw}' for name, raw in fields.items()) + "}"


def _points_with(first: str) -> str:
    """The real points with the first coordinate replaced by raw JSON ``first``."""
    rest = json.dumps(REAL_LANDMARKS)[1:]
    _, y, z = REAL_LANDMARKS[0]
    return f"[[{first}, {y}, {z}]" + rest[rest.index("]") + 1 :]


def _outcome(reply: dict[str, Any]) -> str:
    if "error" in reply:
        return str(reply["error"]["code"])
    return "ack" if "ack" in reply else "reply"


async def _outcomes(ws: Any, cases: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What each message got (an error code, ``reply`` or ``ack``), or how the socket closed."""
    got = []
    for message, _ in cases:
        try:
            await ws.send(message)
            got.append((message[-60:], _outcome(await receive_json(ws))))
        except (ConnectionClosed, TimeoutError) as exc:
            got.append((message[-60:], f"closed {ws.close_code}: {type(exc).__name__}"))
    return got


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


LANDMARK_CASES = [
    (_landmarks(n=HUGE), "reply"),  # an ignored field: read as a float, as orjson does
    (_landmarks(id=HUGE), "bad_message"),
    (_landmarks(aspect=HUGE), "bad_landmarks"),
    (_landmarks(landmarks=_points_with(HUGE)), "bad_landmarks"),
    (_landmarks(landmarks=_points_with(BIG)), "bad_landmarks"),
    (_landmarks(image_size=f"[{BIG}, 480]"), "bad_landmarks"),
    (_landmarks(image_size=f"[{BIG}, {BIG}]"), "bad_landmarks"),
    (_landmarks(image_size=f"[{HUGE}, 480]"), "bad_landmarks"),
    (_landmarks(id=LONE), "bad_json"),
    (_landmarks(handedness=LONE), "bad_json"),
    ('{"type": "reset", "target": null, "id": ' + LONE + "}", "bad_json"),
    ('{"type": ' + LONE + ', "id": 3}', "bad_json"),
    (_landmarks(landmarks=_points_with('"0.5"')), "bad_landmarks"),  # defect 7: a string
    (_landmarks(landmarks=_points_with("true")), "bad_landmarks"),  # defect 7: a boolean
    (_landmarks(image_size='["640", 480]'), "bad_landmarks"),
    (_landmarks(id="7"), "reply"),  # and the session still answers
]


def test_hostile_numbers_and_strings_in_landmark_messages_get_documented_answers(caplog):
    async def scenario() -> list[tuple[str, str]]:
        async with (
            running_service(
                "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, rate_burst=100
            ) as service,
            client(service) as ws,
        ):
            return await _outcomes(ws, LANDMARK_CASES)

    caplog.set_level(logging.INFO)
    got = asyncio.run(scenario())
    assert [code for _, code in got] == [code for _, code in LANDMARK_CASES], got
    assert _tracebacks(caplog) == []


def _frame(image: str, **fields: str) -> str:
    text = json.dumps({"type": "frame", "image": image})[:-1]
    return text + "".join(f', "{name}": {raw}' for name, raw in fields.items()) + "}"


def test_hostile_image_messages_get_documented_answers(caplog):
    jpeg = base64.b64encode(photo("B")).decode()
    cases = [
        (_frame("data:image/jpeg;base64"), "bad_base64"),
        (_frame("data:"), "bad_base64"),
        (json.dumps({"jpeg_blob": "data:image/png"}), "bad_base64"),
        (_frame(jpeg, id=LONE), "bad_json"),
        (json.dumps({"jpeg_blob": jpeg})[:-1] + ', "id": ' + LONE + "}", "bad_json"),
        (_frame(jpeg, id=HUGE), "bad_message"),
        (_frame(jpeg, extra=HUGE, id="8"), "reply"),
        (_frame(f"data:image/jpeg;base64,{jpeg}", id="9"), "reply"),
    ]

    async def scenario() -> list[tuple[str, str]]:
        async with running_service(rate_burst=100) as service, client(service) as ws:
            return await _outcomes(ws, cases)

    caplog.set_level(logging.INFO)
    got = asyncio.run(scenario())
    assert [code for _, code in got] == [code for _, code in cases], got
    assert _tracebacks(caplog) == []


def test_a_legacy_frame_changing_the_target_is_acknowledged_before_its_reply():
    """docs/PROTOCOL.md: the ack is "sent for every reset, explicit or legacy" (defect 7)."""
    blob = base64.b64encode(photo("B")).decode()

    async def scenario() -> list[dict[str, Any]]:
        async with running_service() as service, client(service) as ws:
            await ws.send(json.dumps({"jpeg_blob": blob, "new_word_letter": "c"}))
            first, second = await receive_json(ws), await receive_json(ws)
            await ws.send(json.dumps({"jpeg_blob": blob, "new_word_letter": "C"}))
            third = await receive_json(ws)  # the same letter again: no reset, no ack
            return [first, second, third]

    first, second, third = asyncio.run(scenario())
    assert first == {
        "ack": "reset",
        "target": "C",
        "detected_word_letter": None,
        "target_lettr_prob": 0.0,
    }
    assert "letter" in second and second["target"] == "C"
    assert "letter" in third and "ack" not in third
