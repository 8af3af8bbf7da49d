"""The older app's word mode, sans I/O (``docs/PROTOCOL.md``, "Clients of the older app"): how
``new_word`` parses, what a reply says while the word is spelled, and the session core that
starts and ends it — with a fake clock, in milliseconds. The app itself against a real server:
``test_field_app.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signify_graph import Control, Kind
from signify_graph.service.protocol import Frame, MessageParser, ProtocolError, Reset
from signify_graph.service.session import ApplyReset, SessionCore
from signify_graph.service.wordmode import (
    MAX_WORD_LETTERS,
    WordMode,
    parse_word,
    spelled_word,
    word_probability,
)

from .test_session import ROOMY, Clock, Harness, frame, sent, started

LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parser(*, spells: bool = True) -> MessageParser:
    return MessageParser(Kind.ENCODED_IMAGE, LABELS, spells=spells)


def legacy(blob: str | None = "AAAA", **fields: Any) -> str:
    return json.dumps({"jpeg_blob": blob, **fields})


def reply(text: str, letter: str | None = "A", p: float = 0.9, **extra: Any) -> dict[str, Any]:
    """A spelling pipeline's reply: ``letter`` on top with ``p``, ``text`` spelled so far."""
    top = [] if letter is None else [{"letter": letter, "p": p}, {"letter": "Z", "p": 0.01}]
    return {
        "maxarg_letter": letter,
        "target_arg_prob": p if letter else 0.0,
        "status": "ok" if letter else "no_hand",
        "letter": letter,
        "confidence": p if letter else 0.0,
        "target": None,
        "top": top,
        "text": text,
        "committed": "",
        "pending": None,
        **extra,
    }


# -- the word a client names -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "word"),
    [("cab", "CAB"), (" Hello ", "HELLO"), ("Z" * MAX_WORD_LETTERS, "Z" * MAX_WORD_LETTERS)],
)
def test_a_word_of_letters_is_upper_cased(value: str, word: str) -> None:
    assert parse_word(value, LABELS) == word


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_null_or_empty_word_ends_word_mode(value: str | None) -> None:
    assert parse_word(value, LABELS) is None


@pytest.mark.parametrize(
    "value", [5, ["CAB"], True, "H3LLO", "HI THERE", "CAFÉ", "STRAßE", "Z" * (MAX_WORD_LETTERS + 1)]
)
def test_anything_but_1_to_32_letters_a_to_z_is_a_bad_word(value: object) -> None:
    with pytest.raises(ProtocolError) as error:
        parse_word(value, LABELS)
    assert error.value.code == "bad_word" and error.value.message


def test_a_word_with_a_letter_the_model_cannot_read_is_a_bad_word() -> None:
    with pytest.raises(ProtocolError) as error:
        parse_word("JAZZ", tuple("ABCDEFGHIKLMNOPQRSTUVWXY"))
    assert error.value.code == "bad_word" and "JZ" in error.value.message


# -- how the app's messages parse -----------------------------------------------------------
def test_new_word_with_a_null_blob_is_a_reset_to_word_mode_with_no_target_letter() -> None:
    p = parser()
    assert p.parse(legacy(None, new_word="cab")) == Reset(Control(None, "CAB"))
    assert (p.target, p.word) == (None, "CAB")


def test_frames_naming_no_letter_or_the_same_word_keep_word_mode() -> None:
    p = parser()
    p.parse(legacy(None, new_word="CAB"))
    assert p.parse(legacy(new_word_letter=None)) == Frame("AAAA")
    assert p.parse(legacy(new_word="cab")) == Frame("AAAA")
    assert p.parse(legacy()) == Frame("AAAA")
    assert p.word == "CAB"


def test_a_frame_with_another_word_resets_to_it_first() -> None:
    p = parser()
    p.parse(legacy(None, new_word="CAB"))
    assert p.parse(legacy(new_word="BAD")) == Frame("AAAA", Control(None, "BAD"))


@pytest.mark.parametrize(
    ("message", "control"),
    [
        (legacy(new_word_letter="B"), Control("B")),  # a frame with a letter target
        (legacy(new_word=None), Control(None)),  # a frame ending word mode
        (legacy(None, new_word_letter="B"), Control("B")),  # the app's letter reset
        (legacy(None, new_word_letter=None), Control(None)),  # a reset naming no word
        (json.dumps({"type": "reset", "target": "B"}), Control("B")),
    ],
)
def test_a_letter_target_or_a_reset_without_a_word_ends_word_mode(message, control) -> None:
    p = parser()
    p.parse(legacy(None, new_word="CAB"))
    parsed = p.parse(message)
    assert (parsed.control if isinstance(parsed, Frame | Reset) else None) == control
    assert p.word is None


def test_a_word_wins_over_a_letter_in_the_same_message_and_a_reset_may_name_one() -> None:
    assert parser().parse(legacy(None, new_word="CAB", new_word_letter="B")) == Reset(
        Control(None, "CAB")
    )
    explicit = json.dumps({"type": "reset", "target": None, "word": "bad"})
    assert parser().parse(explicit) == Reset(Control(None, "BAD"))


def test_a_bad_word_is_refused_with_the_messages_id_and_leaves_the_mode_as_it_was() -> None:
    p = parser()
    p.parse(legacy(None, new_word="CAB"))
    with pytest.raises(ProtocolError) as error:
        p.parse(legacy(new_word="C4B", id=9))
    assert (error.value.code, error.value.client_id) == ("bad_word", 9)
    assert p.word == "CAB" and p.parse(legacy()) == Frame("AAAA")


def test_a_word_for_a_pipeline_that_does_not_spell_is_wrong_input() -> None:
    with pytest.raises(ProtocolError) as error:
        parser(spells=False).parse(legacy(None, new_word="CAB"))
    assert error.value.code == "wrong_input"
    assert parser(spells=False).parse(legacy(None, new_word=None)) == Reset(Control(None))


# -- what a reply says in word mode -----------------------------------------------------------
def test_the_word_spelled_is_the_last_word_of_the_text() -> None:
    assert [spelled_word(t) for t in ["", "C", "CA", "CX ", "CX C", " "]] == [
        "",
        "C",
        "CA",
        "CX",
        "C",
        "",
    ]


def test_the_probability_is_the_spelled_fraction_times_the_next_letters_probability() -> None:
    assert word_probability("CAB", "", reply("", "C", 0.9)) == 0.0  # nothing spelled yet
    assert word_probability("CAB", "C", reply("C", "A", 0.9)) == 0.3
    second = reply("CA", "A", 0.9, top=[{"letter": "A", "p": 0.9}, {"letter": "B", "p": 0.06}])
    assert word_probability("CAB", "CA", second) == 0.04  # B second: its own probability
    assert word_probability("CAB", "CA", reply("CA", "Q", 0.9)) == 0.0  # B is not in the top
    assert word_probability("CAB", "CA", reply("CA", None)) == 0.0  # no hand
    assert word_probability("CAB", "CX", reply("CX", "A", 0.9)) == 0.0  # a wrong letter
    assert word_probability("CAB", "CAB", reply("CAB", None)) == 1.0


def test_a_word_is_reported_complete_once_and_stays_complete_until_the_next_word() -> None:
    mode = WordMode()
    mode.start("CAB")
    replies = [mode.reply(reply(t, "B", 0.8)) for t in ["", "C", "CA", "CAB", "CAB", "CAB X"]]
    assert [r["detected_word_letter"] for r in replies] == ["", "C", "CA", "CAB", "CAB", "CAB"]
    assert [r["maxarg_word"] for r in replies] == [r["detected_word_letter"] for r in replies]
    assert [r["word_complete"] for r in replies] == [False, False, False, True, False, False]
    assert [r["target_word_prob"] for r in replies] == [0.0, 0.0, 0.5333, 1.0, 1.0, 1.0]
    assert all(r["target_word"] == "CAB" and "target_lettr_prob" not in r for r in replies)
    mode.start("CAB")  # the same word again: a new game
    assert mode.reply(reply("CAB", "B"))["word_complete"] is True


def test_outside_word_mode_or_without_text_a_reply_gets_letter_modes_names() -> None:
    mode = WordMode()
    letter = mode.reply(reply("AB", "B", 0.7))
    assert letter["detected_word_letter"] == "B" and letter["target_lettr_prob"] == 0.7
    assert "maxarg_word" not in letter and "word_complete" not in letter
    mode.start("CAB")
    plain = {k: v for k, v in reply("", "B").items() if k not in ("text", "committed", "pending")}
    assert mode.reply(plain)["detected_word_letter"] == "B"


# -- the session core ---------------------------------------------------------------------------
def word_session() -> Harness:
    clock = Clock()
    core = SessionCore(parser(), ROOMY, now=clock.now)
    core.opened(clock.now)
    return Harness(core, clock)


def test_new_word_resets_the_session_and_is_acknowledged_with_the_word() -> None:
    s = word_session()
    actions = s.send(legacy(None, new_word="cab"))
    assert actions[0] == ApplyReset(Control(None, "CAB"))
    assert sent(actions) == [
        {
            "ack": "reset",
            "target": None,
            "word": "CAB",
            "detected_word_letter": "",
            "maxarg_word": "",
            "target_word_prob": 0.0,
        }
    ]


def test_replies_spell_the_word_until_a_letter_target_ends_word_mode() -> None:
    s = word_session()
    s.send(legacy(None, new_word="CAB"))
    complete = []
    for text in ["C", "CA", "CAB", "CAB"]:
        assert started(s.send(legacy(new_word_letter=None, id=text)))
        (payload,) = sent(s.finish(reply(text, "B")))
        assert payload["detected_word_letter"] == text and payload["id"] == text
        complete.append(payload["word_complete"])
    assert complete == [False, False, True, False]
    actions = s.send(legacy(new_word_letter="B", id=5))  # letter mode, with this frame
    assert sent(actions) == [
        {"ack": "reset", "target": "B", "detected_word_letter": None, "target_lettr_prob": 0.0}
    ] and started(actions) == [5]
    (payload,) = sent(s.finish(reply("", "B", 0.8)))
    assert payload["detected_word_letter"] == "B" and payload["target_lettr_prob"] == 0.8
    assert "maxarg_word" not in payload and "target_word_prob" not in payload


def test_a_new_word_discards_the_running_frames_reply_and_a_bad_word_harms_nothing() -> None:
    s = word_session()
    s.send(frame(1))
    s.send(legacy(None, new_word="CAB"))
    assert sent(s.finish(reply("X", "X"))) == []  # the old word's frame: never shown
    (error,) = sent(s.send(legacy(None, new_word="NO WAY", id="w")))
    assert error == {
        "error": {"code": "bad_word", "message": error["error"]["message"]},
        "id": "w",
    }
    assert started(s.send(legacy(new_word_letter=None, id=2))) == [2]
    (payload,) = sent(s.finish(reply("C", "A")))
    assert payload["target_word"] == "CAB" and payload["target_word_prob"] == 0.3
