"""``{"type": "text", "action": ...}`` (protocol 1.1), sans I/O: how it parses, and when the
session core applies it — at once, or between frames, never while a frame runs, and never
as a reset (the running frame's reply stands, the waiting frame still runs)."""

from __future__ import annotations

import json

import pytest

from signify_graph import Control, Kind, TextEdit
from signify_graph.service.protocol import Edit, MessageParser, ProtocolError
from signify_graph.service.session import ApplyEdit, ApplyReset, SessionCore

from .test_session import RESET, ROOMY, Clock, Harness, dropped, frame, sent, started

LABELS = ("A", "B", "C")


def text(action: str, **extra: object) -> str:
    return json.dumps({"type": "text", "action": action, **extra})


def spelling_session(*, opened: bool = True) -> Harness:
    clock = Clock()
    parser = MessageParser(Kind.ENCODED_IMAGE, LABELS, spells=True)
    core = SessionCore(parser, ROOMY, now=clock.now)
    if opened:
        core.opened(clock.now)
    return Harness(core, clock)


@pytest.mark.parametrize("action", ["clear", "delete", "space"])
def test_a_text_message_parses_to_an_edit_with_its_id(action: str) -> None:
    parser = MessageParser(Kind.ENCODED_IMAGE, LABELS, spells=True)
    assert parser.parse(text(action, id=7)) == Edit(TextEdit(action), 7)


@pytest.mark.parametrize("action", [None, "undo", 3, ["clear"], "CLEAR"])
def test_a_text_message_with_another_action_is_a_bad_message(action: object) -> None:
    parser = MessageParser(Kind.ENCODED_IMAGE, LABELS, spells=True)
    with pytest.raises(ProtocolError) as error:
        parser.parse(json.dumps({"type": "text", "action": action, "id": "x"}))
    assert error.value.code == "bad_message" and error.value.client_id == "x"


def test_a_text_message_to_a_pipeline_that_does_not_spell_is_wrong_input() -> None:
    with pytest.raises(ProtocolError) as error:
        MessageParser(Kind.LANDMARK_MESSAGE, LABELS).parse(text("clear"))
    assert error.value.code == "wrong_input"


def test_an_edit_on_an_idle_session_is_applied_at_once() -> None:
    s = spelling_session()
    assert s.send(text("delete", id=1)) == [ApplyEdit(Edit(TextEdit("delete"), 1))]


def test_an_edit_while_a_frame_runs_waits_for_it_and_keeps_its_reply_and_the_next_frame():
    s = spelling_session()
    s.send(frame(1))
    s.send(frame(2))
    assert s.send(text("delete")) == []  # the stages are busy: not now
    assert s.send(text("space")) == []
    after = s.finish({"letter": "A"})
    assert sent(after) == [{"letter": "A", "id": 1}]  # not discarded: an edit is no reset
    edits = [a.edit.edit.action for a in after if isinstance(a, ApplyEdit)]
    assert edits == ["delete", "space"]  # in the order they came
    assert started(after) == [2] and dropped(after) == []
    assert after.index(next(a for a in after if isinstance(a, ApplyEdit))) < len(after) - 1


def test_a_waiting_reset_is_applied_before_waiting_edits() -> None:
    s = spelling_session()
    s.send(frame(1))
    s.send(text("space"))
    s.send(RESET)
    after = s.finish()
    kinds = [type(a) for a in after if isinstance(a, ApplyReset | ApplyEdit)]
    assert kinds == [ApplyReset, ApplyEdit]
    assert ApplyReset(Control("B")) in after


def test_an_edit_sent_while_the_session_opens_is_applied_on_opening() -> None:
    s = spelling_session(opened=False)
    assert s.send(text("clear")) == []
    assert s.core.opened(s.clock()) == [ApplyEdit(Edit(TextEdit("clear")))]
