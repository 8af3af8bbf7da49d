"""The wire protocol, sans I/O: turn one WebSocket message into a frame, a control message
or a typed protocol error. Nothing here touches asyncio or sockets, so it is fuzzed
directly (``tests/service/test_protocol.py``) and documented in ``docs/PROTOCOL.md``.

Accepted messages (protocol version 1.2):

* **binary** — the raw bytes of one JPEG/PNG/WebP frame (cheapest: no base64, no JSON);
* **old-style text** — what the old service's clients send (``docs/MIGRATING.md``):
  ``{"jpeg_blob": <base64 | null>, "new_word_letter": <letter | null>}``; a change of
  ``new_word_letter`` (or a null blob) resets the session; ``"new_word": <word | null>``
  (1.2, the older app's word mode, :mod:`.wordmode`) resets it with a target word instead;
* ``{"type": "frame", "image": <base64>}``;
* ``{"type": "landmarks", "landmarks": [[x, y, z] × 21], "aspect"?: w/h, "handedness"?: …}``;
* ``{"type": "reset", "target": <letter | null>, "word"?: <word | null>}``;
* ``{"type": "text", "action": "clear" | "delete" | "space"}`` — edit the spelled text
  (1.1; only for a pipeline with a ``spell`` node).

Any JSON message may carry an ``id`` (a string of at most 64 characters, or an integer); the
reply or error for that frame echoes it, so clients and load generators can match them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from .._errors import ClientId, ProtocolError
from .._kinds import Control, Kind, TextEdit
from .wordmode import parse_word

__all__ = [
    "ClientId",
    "Edit",
    "Frame",
    "Message",
    "MessageParser",
    "ProtocolError",
    "Reset",
    "error_payload",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """An item for the graph: ``payload`` matches the pipeline's input kind."""

    payload: Any
    #: Set when an old-style message also changes the target (reset first, then the frame).
    control: Control | None = None
    #: The client's ``id`` for this frame, echoed in its reply or error.
    id: ClientId = None


@dataclass(frozen=True, slots=True)
class Reset:
    """Start over, with ``control``'s target."""

    control: Control


@dataclass(frozen=True, slots=True)
class Edit:
    """Edit the session's spelled text; acknowledged with the text after it."""

    edit: TextEdit
    id: ClientId = None


#: Keys that make a message without ``type`` the old service's (or the older app's).
_LEGACY_KEYS = frozenset(("jpeg_blob", "new_word_letter", "new_word"))

#: What a ``text`` message may ask of the spelled text.
TEXT_ACTIONS = ("clear", "delete", "space")

Message = Frame | Reset | Edit


def _number(text: str) -> int | float:
    """An integer as orjson reads it: exact within 64 bits, a double beyond (``inf`` past any
    double). Python would read a 400-digit integer exactly, and one of 5000 digits not at all
    (``ValueError``): neither is a number a client means, and stages expect doubles."""
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**64:
            return value
    return float(text)


def _lone_surrogate(data: Any) -> str | None:
    """The first string in ``data`` holding a lone surrogate (``"\\ud800"``), if any.

    JSON's escapes can spell one, :mod:`json` reads it, and it is not Unicode text: no reply
    that echoed it could be encoded (orjson refuses it, and so does RFC 7493's I-JSON).
    Iterative, because the nesting is as deep as :mod:`json` allowed."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode()
                except UnicodeEncodeError:
                    return item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _strict_loads(message: str) -> Any:
    """What orjson refused, read by :mod:`json`: it names the fault more plainly, and it reads
    ``NaN``/``Infinity``, which Python clients write, so they reach the stage that validates
    landmarks and are refused there with the documented ``bad_landmarks``. Numbers are read
    as orjson reads them (:func:`_number`); lone surrogates are refused as orjson refuses them."""
    try:
        data = json.loads(message, parse_int=_number)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"the message is not valid JSON: {exc}") from None
    lone = _lone_surrogate(data)
    if lone is not None:
        raise ProtocolError(
            "bad_json", f"the message is not valid JSON: a lone surrogate in {ascii(lone)[:40]}"
        )
    return data


def error_payload(code: str, message: str, client_id: ClientId = None) -> dict[str, Any]:
    """The one shape of every error a client sees, on the socket or over HTTP:
    ``{"error": {"code", "message"}}``, with the ``id`` of the message it answers, if any."""
    reply: dict[str, Any] = {"error": {"code": code, "message": message}}
    if client_id is not None:
        reply["id"] = client_id
    return reply


def _client_id(data: dict[str, Any]) -> ClientId:
    value = data.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError("bad_message", "'id' must be a string or an integer")
    if (isinstance(value, str) and len(value) > 64) or (
        isinstance(value, int) and abs(value) >= 2**53
    ):
        raise ProtocolError("bad_message", "'id' is too long")
    return value


class MessageParser:
    """Parses messages for one session; remembers the target to spot legacy target changes."""

    def __init__(
        self, input_kind: Kind, labels: tuple[str, ...] | None, *, spells: bool = False
    ) -> None:
        self.input_kind = input_kind
        self.labels = labels
        #: The pipeline has a ``spell`` node, so ``text`` messages have a text to edit.
        self.spells = spells
        self.target: str | None = None
        #: The target word of word mode, or ``None`` (letter mode).
        self.word: str | None = None

    def _target(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ProtocolError("bad_target", "the target letter must be a string or null")
        letter = value.strip().upper()
        if self.labels is not None and letter not in self.labels:
            known = "".join(self.labels) if all(len(x) == 1 for x in self.labels) else self.labels
            raise ProtocolError("bad_target", f"unknown target letter {value!r}; known: {known}")
        return letter

    def _word(self, value: Any) -> str | None:
        word = parse_word(value, self.labels)
        if word is not None and not self.spells:
            raise ProtocolError("wrong_input", "this pipeline does not spell (no spell node)")
        return word

    def _control(self, target: str | None, word: str | None = None) -> Control:
        """A reset to ``word`` (word mode: no target letter), else to ``target``."""
        self.target, self.word = (None, word) if word is not None else (target, None)
        return Control(self.target, self.word)

    def _expect(self, kind: Kind) -> None:
        if self.input_kind is not kind:
            wanted = "image frames" if self.input_kind is Kind.ENCODED_IMAGE else "landmarks"
            raise ProtocolError("wrong_input", f"this pipeline takes {wanted}")

    def parse(self, message: str | bytes) -> Message:
        if isinstance(message, bytes | bytearray | memoryview):
            self._expect(Kind.ENCODED_IMAGE)
            return Frame(bytes(message))
        try:
            data = orjson.loads(message)
        except orjson.JSONDecodeError:
            data = _strict_loads(message)
        if not isinstance(data, dict):
            raise ProtocolError("bad_message", "a text message must be a JSON object")
        client_id = _client_id(data)
        try:
            return self._parse_object(data, client_id)
        except ProtocolError as exc:
            exc.client_id = client_id
            raise

    def _parse_object(self, data: dict[str, Any], client_id: ClientId) -> Message:
        if "type" not in data and _LEGACY_KEYS.intersection(data):
            return self._legacy(data, client_id)
        kind = data.get("type")
        if kind == "frame":
            self._expect(Kind.ENCODED_IMAGE)
            image = data.get("image")
            if not isinstance(image, str):
                raise ProtocolError("bad_message", "'image' must be base64 text")
            return Frame(image, id=client_id)
        if kind == "landmarks":
            self._expect(Kind.LANDMARK_MESSAGE)
            return Frame({k: v for k, v in data.items() if k not in ("type", "id")}, id=client_id)
        if kind == "reset":
            target = self._target(data.get("target"))
            return Reset(self._control(target, self._word(data.get("word"))))
        if kind == "text":
            return self._edit(data, client_id)
        if kind is None:
            raise ProtocolError("bad_message", "the message has no 'type'")
        raise ProtocolError(
            "unknown_message",
            f"unknown message type {kind!r}; expected frame, landmarks, reset or text",
        )

    def _edit(self, data: dict[str, Any], client_id: ClientId) -> Edit:
        action = data.get("action")
        if action not in TEXT_ACTIONS:
            raise ProtocolError(
                "bad_message", f"'action' must be one of {', '.join(TEXT_ACTIONS)}; got {action!r}"
            )
        if not self.spells:
            raise ProtocolError("wrong_input", "this pipeline does not spell (no spell node)")
        return Edit(TextEdit(action), client_id)

    def _legacy(self, data: dict[str, Any], client_id: ClientId) -> Message:
        """A null blob resets to exactly what the message names (no ``new_word``: letter
        mode); a frame resets first only when it changes the target letter or word — a
        frame that names neither (or the same ones again, as the app does) changes nothing."""
        blob = data.get("jpeg_blob")
        target = self._target(data.get("new_word_letter"))
        word = self._word(data["new_word"]) if "new_word" in data else None
        if blob is None:
            return Reset(self._control(target, word))
        if not isinstance(blob, str):
            raise ProtocolError("bad_message", "'jpeg_blob' must be base64 text or null")
        self._expect(Kind.ENCODED_IMAGE)
        if "new_word" not in data and target == self.target:
            word = self.word  # the same letter target: word mode, if on, goes on
        wanted = (None, word) if word is not None else (target, None)
        control = self._control(target, word) if wanted != (self.target, self.word) else None
        return Frame(blob, control, id=client_id)
