"""The older mobile app's names for our reply fields (``docs/PROTOCOL.md``, "Clients of the
older app").

The app in the field never read the old service's ``maxarg_letter`` / ``target_arg_prob``: its
message handler shows ``detected_word_letter`` and a target probability read from
``target_lettr_prob`` (sic), else ``target_word_prob``, else 0. Clients in the field must keep
working unchanged, so every reply that carries the old fields carries the app's names for them
too. They are aliases, added after the graph ran: our own fields, and what a recording holds,
stay exactly as they were. Pure functions, no I/O, so the session core calls them directly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ack_app_fields", "with_app_fields"]


def with_app_fields(reply: dict[str, Any]) -> dict[str, Any]:
    """``reply`` with the app's aliases of the old service's fields, in letter mode:
    ``detected_word_letter`` is ``maxarg_letter`` (``null`` when no hand is seen, never an
    invented letter) and ``target_lettr_prob`` is ``target_arg_prob``, with its two meanings
    (``target`` says which). A reply without the old fields (a third party's) is left alone."""
    if "maxarg_letter" not in reply:
        return reply
    return {
        **reply,
        "detected_word_letter": reply["maxarg_letter"],
        "target_lettr_prob": reply.get("target_arg_prob", 0.0),
    }


def ack_app_fields(word: str | None) -> dict[str, Any]:
    """The app's fields for a reset's acknowledgement: the app reads ``detected_word_letter``
    from every message it receives, so an ack without it shows ``undefined`` until the next
    reply. Nothing is spelled or seen yet: in letter mode no letter (``null``, as a reply with
    no hand) and probability 0; in word mode the empty word, and probability 0."""
    if word is None:
        return {"detected_word_letter": None, "target_lettr_prob": 0.0}
    return {"detected_word_letter": "", "maxarg_word": "", "target_word_prob": 0.0}
