"""Word mode, as the older mobile app plays it (``docs/PROTOCOL.md``, "Clients of the older
app"): the client names a word, ``{"jpeg_blob": null, "new_word": "CAB"}``, and every reply
says how far the word is spelled, how likely it is that the target is being spelled, and — once
— that it is complete.

The spelling itself is the ``spell`` stage's (its ``text``); this module only reads a reply's
``text`` against the target, after the graph ran, like the app's letter-mode aliases
(:mod:`.fieldapp`). So a recording holds the pipeline's replies unchanged and a replay
reproduces them. Pure functions and one small state object, no I/O: the session core owns it.

Definitions (each documented in ``docs/PROTOCOL.md``):

* **the word spelled** is the last word of the session's ``text`` — the letters committed since
  the last space. A new word clears the text, so at first it is every letter committed since
  the word was set; a pause (the hand out of view for ``spell.pause_ms``) starts the word
  afresh, which is how an app user who committed a wrong letter tries again: the app in the
  field cannot delete a letter;
* **the probability that the target is being spelled**, for a target of ``n`` letters whose
  first ``k`` are the word spelled (a prefix of it), is ``k / n`` times the probability, in
  this frame, of the target's next letter; 1.0 once the word is complete, 0 when the word
  spelled is not a prefix of the target. It is 1.0 only for a complete word, rises with every
  right letter and falls to 0 with a wrong one;
* **complete**: the first reply whose word spelled is the target says ``word_complete: true``
  — that reply is always sent, since a commit is never throttled. From then on the word
  stays complete (shown as the target, probability 1.0) until the client sets a new word or
  resets, whatever is spelled after it.
"""

from __future__ import annotations

from typing import Any

from .._errors import ProtocolError
from .fieldapp import with_app_fields

__all__ = ["MAX_WORD_LETTERS", "WordMode", "parse_word", "spelled_word", "word_probability"]

#: The longest target word (the spell stage keeps 200 characters of text).
MAX_WORD_LETTERS = 32


def parse_word(value: Any, labels: tuple[str, ...] | None) -> str | None:
    """A client's target word, upper-cased; ``None`` (word mode ends) for ``null`` or ``""``.

    Raises :class:`ProtocolError` ``bad_word`` unless it is 1 to :data:`MAX_WORD_LETTERS`
    letters A-Z (either case) that the model knows (``labels``, when it has letters)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError("bad_word", "the target word must be a string or null")
    word = value.strip()
    if not word:
        return None
    # isascii first: "ß".upper() is "SS", and non-ASCII letters are not fingerspelled here.
    if not (word.isascii() and word.isalpha()):
        raise ProtocolError(
            "bad_word", f"the target word must be letters A-Z only; got {word!r:.40}"
        )
    if len(word) > MAX_WORD_LETTERS:
        raise ProtocolError(
            "bad_word", f"the target word has {len(word)} letters; at most {MAX_WORD_LETTERS}"
        )
    word = word.upper()
    unknown = sorted(set(word) - set(labels or word))
    if unknown:
        raise ProtocolError("bad_word", f"the model cannot read {''.join(unknown)!r}")
    return word


def spelled_word(text: str) -> str:
    """The last word of ``text``: the letters after its last space (``""`` for none)."""
    words = text.split()
    return words[-1] if words else ""


def word_probability(target: str, word: str, reply: dict[str, Any]) -> float:
    """How likely it is that ``target`` is being spelled, given the ``word`` spelled so far and
    this frame's ``reply`` (its ``top`` letters, else its ``letter`` and ``confidence``)."""
    if word == target:
        return 1.0
    if not target.startswith(word):
        return 0.0
    following = target[len(word)]
    top = reply.get("top") or ()
    p = next((float(t["p"]) for t in top if t.get("letter") == following), None)
    if p is None:
        p = float(reply.get("confidence") or 0.0) if reply.get("letter") == following else 0.0
    return round(len(word) / len(target) * p, 4)


class WordMode:
    """One session's target word, and whether its completion has been reported."""

    def __init__(self) -> None:
        self.target: str | None = None
        self._complete = False

    def start(self, word: str | None) -> None:
        """A reset: ``word`` is the new target, or ``None`` (letter mode)."""
        self.target, self._complete = word, False

    def reply(self, reply: dict[str, Any]) -> dict[str, Any]:
        """``reply`` with the app's fields: letter mode's aliases (:func:`with_app_fields`),
        or in word mode the word spelled (``detected_word_letter``, ``maxarg_word``), the
        ``target_word``, ``target_word_prob`` and ``word_complete``. A reply without ``text``
        (no spell node) gets letter mode's aliases."""
        target = self.target
        if target is None or "text" not in reply:
            return with_app_fields(reply)
        word = target if self._complete else spelled_word(str(reply["text"]))
        complete = word == target and not self._complete
        self._complete = word == target
        return {
            **reply,
            "detected_word_letter": word,
            "maxarg_word": word,
            "target_word": target,
            "target_word_prob": word_probability(target, word, reply),
            "word_complete": complete,
        }
