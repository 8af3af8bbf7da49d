"""The JSON Schemas of docs/schemas/ are the protocol's contract: the messages documented in
docs/PROTOCOL.md validate against the client schemas, and what a real server sends validates
against the server ones (:func:`check_server_message`, used by the real-server tests)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from .conftest import ROOT

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = ROOT / "docs" / "schemas"


@cache
def validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_server_message(message: dict[str, Any]) -> None:
    """Fail unless ``message`` is a reply, an acknowledgement or an error of the schemas."""
    name = "server-error" if "error" in message else "server-ack" if "ack" in message else None
    validator(name or "server-reply").validate(message)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("client-text", {"type": "text", "action": "clear"}),
        ("client-text", {"type": "text", "action": "delete", "id": 3}),
        ("client-text", {"type": "text", "action": "space", "id": "a"}),
        ("client-reset", {"type": "reset", "target": "B"}),
        ("client-frame", {"type": "frame", "image": "AAAA"}),
        ("client-legacy", {"jpeg_blob": None, "new_word": "HELLO"}),
        ("client-legacy", {"jpeg_blob": "AAAA", "new_word": "cab", "new_word_letter": None}),
        ("client-legacy", {"jpeg_blob": None, "new_word": None}),
        ("client-reset", {"type": "reset", "target": None, "word": "BAD"}),
    ],
)
def test_documented_client_messages_validate(schema: str, message: dict[str, Any]) -> None:
    validator(schema).validate(message)


@pytest.mark.parametrize(
    "message",
    [{"type": "text"}, {"type": "text", "action": "undo"}, {"type": "text", "action": None}],
)
def test_a_text_message_without_a_known_action_is_refused_by_its_schema(message) -> None:
    assert not validator("client-text").is_valid(message)


SPELLING_REPLY = {
    "maxarg_letter": "B", "target_arg_prob": 0.9, "status": "ok", "letter": "B",
    "confidence": 0.9, "target": None, "top": [], "frames": 5, "seq": 9,
}  # fmt: skip


def test_a_reply_has_all_three_spelling_fields_or_none() -> None:
    check_server_message(SPELLING_REPLY)  # a pipeline without spell: the 1.0 fields
    spelled = {**SPELLING_REPLY, "text": "AB", "committed": "B", "pending": None}
    check_server_message(spelled)
    check_server_message({**spelled, "pending": {"letter": "C", "progress": 0.5}})
    assert not validator("server-reply").is_valid({**SPELLING_REPLY, "text": "AB"})
    bad_progress = {**spelled, "pending": {"letter": "C", "progress": 2}}
    assert not validator("server-reply").is_valid(bad_progress)


def test_both_acknowledgements_validate_and_mixtures_do_not() -> None:
    check_server_message({"ack": "reset", "target": None})
    check_server_message({"ack": "text", "action": "delete", "text": "HEL", "id": 4})
    assert not validator("server-ack").is_valid({"ack": "text", "target": None})


@pytest.mark.parametrize("word", ["H3LLO", "HI THERE", "Z" * 33, 5])
def test_a_word_that_is_not_1_to_32_letters_is_refused_by_the_schemas(word) -> None:
    assert not validator("client-legacy").is_valid({"jpeg_blob": None, "new_word": word})
    assert not validator("client-reset").is_valid({"type": "reset", "word": word})


WORD_FIELDS = {
    "detected_word_letter": "BA", "maxarg_word": "BA", "target_word": "BAD",
    "target_word_prob": 0.6, "word_complete": False,
}  # fmt: skip


def test_a_word_mode_reply_has_every_word_field_and_no_letter_probability() -> None:
    spelled = {**SPELLING_REPLY, "text": "BA", "committed": "", "pending": None}
    check_server_message({**spelled, **WORD_FIELDS})
    check_server_message({"ack": "reset", "target": None, "word": "BAD"})
    without = {k: v for k, v in WORD_FIELDS.items() if k != "word_complete"}
    assert not validator("server-reply").is_valid({**spelled, **without})
    assert not validator("server-reply").is_valid({**SPELLING_REPLY, **WORD_FIELDS})  # no text
    both = {**spelled, **WORD_FIELDS, "target_lettr_prob": 0.9}
    assert not validator("server-reply").is_valid(both)  # the app would read the letter's
