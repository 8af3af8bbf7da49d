"""The older mobile app's names, sans I/O: what the session core adds to a reply for the app
in the field (``docs/PROTOCOL.md``, "Clients of the older app"). The app itself, in Node
against a real server: ``tests/field_app/``."""

from __future__ import annotations

import json

from signify_graph import Kind
from signify_graph.service.fieldapp import with_app_fields
from signify_graph.service.protocol import MessageParser
from signify_graph.service.session import Send, SessionCore, SessionPolicy

ROOMY = SessionPolicy(
    rate=1000, burst=1000, flood_factor=0, fair_rate=0, deadline_s=1, idle_timeout=0
)
REPLY = {"maxarg_letter": "B", "target_arg_prob": 0.91, "letter": "B", "confidence": 0.91}


def test_a_letter_reply_carries_the_apps_names_for_the_old_fields():
    reply = with_app_fields(REPLY)
    assert reply["detected_word_letter"] == "B" and reply["target_lettr_prob"] == 0.91
    assert {k: reply[k] for k in REPLY} == REPLY  # our own fields unchanged


def test_no_hand_is_a_null_letter_under_the_apps_name_too():
    reply = with_app_fields({"maxarg_letter": None, "target_arg_prob": 0.0, "letter": None})
    assert reply["detected_word_letter"] is None and reply["target_lettr_prob"] == 0.0


def test_a_reply_without_the_old_fields_is_left_alone():
    assert with_app_fields({"letter": "B"}) == {"letter": "B"}


def test_the_session_core_sends_the_aliases_with_the_clients_id():
    core = SessionCore(MessageParser(Kind.ENCODED_IMAGE, ("A", "B")), ROOMY, now=0.0)
    core.opened(0.0)
    core.receive(json.dumps({"type": "frame", "image": "AAAA", "id": 3}), 0.01)
    (send,) = core.frame_finished(REPLY, None, 0.02)
    assert isinstance(send, Send)
    assert send.payload == {
        **REPLY,
        "detected_word_letter": "B",
        "target_lettr_prob": 0.91,
        "id": 3,
    }
