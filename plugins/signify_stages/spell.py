"""``spell``: turn the letter of each frame into text — when a letter counts, when a held
letter is a double one, and when a word ends.

Every rule is in milliseconds of the frame's own timestamp (``FrameContext.timestamp_ms``,
the engine's clock, reproduced exactly by a replay), never in frames, so a client sending
10 frames a second spells like one sending 30.

* **A letter is committed** once it has been the top letter with at least
  ``min_confidence`` for ``hold_ms``, the hand staying within ``move_ratio`` hand sizes of
  where the hold began. Until then it is ``pending`` with its progress (0..1).
* **A held letter is committed once.** The same letter is committed again (the two L's of
  HELLO) only after one of two cues:

  - a *release*: for at least ``release_ms`` it was not the held letter — its confidence
    fell below ``min_confidence``, another letter led, or the hand left the view;
  - a *small movement*: the hand moved more than ``move_ratio`` hand sizes (wrist to
    middle-finger knuckle) while the letter was held — the sideways bounce signers make for
    a double letter. Needs the ``hand`` port; ``move_ratio: 0`` turns it off.

  Either way the letter must then be held for another full ``hold_ms``.
* **A space is committed** when the hand has been out of view for ``pause_ms`` (once, and
  never at the start of the text or after a space).

A reset (new target, the client's reset) clears the text; a :class:`~signify_graph.TextEdit`
clears it, deletes its last character or adds a space, and makes the letter held at that
moment start a fresh hold (so deleting a letter while still holding it does not put it
straight back).
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from signify_graph import (
    Control,
    FrameContext,
    Hand,
    Kind,
    Params,
    Port,
    Probabilities,
    Spelling,
    Stage,
    StageRegistry,
    StageSession,
    TextEdit,
    hookimpl,
)

#: Landmarks whose distance is the hand's size: the wrist and the middle finger's knuckle.
_WRIST, _MIDDLE_MCP = 0, 9


class SpellParams(Params):
    min_confidence: float = Field(0.6, ge=0.0, le=1.0)
    """Smoothed probability the top letter needs to count as held."""
    hold_ms: int = Field(600, ge=0, le=60_000)
    """How long a letter must be held to be committed."""
    release_ms: int = Field(80, ge=0, le=60_000)
    """How long a committed letter must be let go (low confidence, another letter, no hand)
    before holding it again commits it again (a double letter)."""
    move_ratio: float = Field(0.4, ge=0.0, le=10.0)
    """Hand movement, in hand sizes, that restarts a hold and, for the letter just
    committed, marks a double letter. 0 = movement is no cue (release only)."""
    pause_ms: int = Field(1000, ge=0, le=600_000)
    """How long the hand must be out of view to commit a space."""
    max_chars: int = Field(200, ge=1, le=10_000)
    """Longest text kept; older characters are dropped, so a session's reply stays small."""


class SpellStage(Stage):
    """Spell text from the letter stream: commit held letters, double letters and spaces.

    Thresholds are in ms of the frames' timestamps, so spelling does not depend on the frame
    rate. Outputs a :class:`~signify_graph.Spelling` for every frame (``emit`` adds ``text``,
    ``committed`` and ``pending`` to the reply); a reset clears the text.
    """

    name = "spell"
    params_model = SpellParams
    inputs: ClassVar = {
        "probabilities": Port(Kind.PROBABILITIES),
        "hand": Port(Kind.HAND, optional=True),
    }
    output = Kind.SPELLING
    inline_safe = True

    def open(self, session_id: str) -> StageSession:
        return SpellSession(self.params)


class SpellSession(StageSession):
    """One session's text and the hold being timed; public so benchmarks can drive it."""

    def __init__(self, params: SpellParams) -> None:
        self._p = params
        self.text = ""
        self._clear_hold()

    def _clear_hold(self) -> None:
        #: The letter last committed and whether it may be committed again (a double).
        self._last: str | None = None
        self._armed = False
        #: The letter being held, when its hold began and where the hand was then.
        self._candidate: str | None = None
        self._since = 0
        self._anchor: tuple[float, float, float] | None = None
        #: When the last committed letter stopped being held; when the hand left.
        self._released_since: int | None = None
        self._absent_since: int | None = None

    def process(
        self, frame: FrameContext, probs: Probabilities | None, hand: Hand | None = None
    ) -> Spelling:
        now = frame.timestamp_ms
        if probs is None:
            return self._absent(now)
        self._absent_since = None
        values = probs.values
        best = int(values.argmax())
        held = probs.labels[best] if float(values[best]) >= self._p.min_confidence else None
        if held != self._last:
            if self._released_since is None:
                self._released_since = now
        else:
            released = self._released_since
            if released is not None and now - released >= self._p.release_ms:
                self._armed = True
            self._released_since = None
        if held is None:
            self._candidate = None
            return Spelling(self.text)
        anchor = _position(hand)
        if held != self._candidate:
            self._candidate, self._since, self._anchor = held, now, anchor
        elif self._moved(anchor):
            self._since, self._anchor = now, anchor
            if held == self._last:
                self._armed = True
        if held == self._last and not self._armed:
            return Spelling(self.text)
        progress = (now - self._since) / self._p.hold_ms if self._p.hold_ms else 1.0
        if progress < 1.0:
            return Spelling(self.text, "", held, round(progress, 3))
        self._last, self._armed, self._released_since = held, False, None
        return Spelling(self._append(held), held)

    def _absent(self, now: int) -> Spelling:
        """No hand: the held letter is let go, and a long enough absence ends the word."""
        self._candidate = None
        if self._released_since is None:
            self._released_since = now
        if self._absent_since is None:
            self._absent_since = now
        if now - self._absent_since >= self._p.pause_ms and self.text[-1:] not in ("", " "):
            self._last = None
            return Spelling(self._append(" "), " ")
        return Spelling(self.text)

    def _moved(self, position: tuple[float, float, float] | None) -> bool:
        anchor, ratio = self._anchor, self._p.move_ratio
        if ratio <= 0 or position is None or anchor is None:
            return False
        x, y, size = position
        return math.hypot(x - anchor[0], y - anchor[1]) > ratio * max(size, anchor[2])

    def _append(self, characters: str) -> str:
        self.text = (self.text + characters)[-self._p.max_chars :]
        return self.text

    def edit(self, edit: TextEdit) -> str:
        if edit.action == "clear":
            self.text = ""
        elif edit.action == "delete":
            self.text = self.text[:-1]
        elif edit.action == "space" and self.text[-1:] not in ("", " "):
            self._append(" ")
        self._clear_hold()
        return self.text

    def reset(self, control: Control) -> None:
        self.text = ""
        self._clear_hold()


def _position(hand: Hand | None) -> tuple[float, float, float] | None:
    """The wrist's (x, y) and the hand's size, in units of the image height (x scaled by
    the aspect, so a sideways move counts as much as an upward one)."""
    if hand is None:
        return None
    # Two points as Python floats: numpy scalar arithmetic would cost more than the rest.
    (wx, wy), (kx, ky) = hand.landmarks[[_WRIST, _MIDDLE_MCP], :2].tolist()
    aspect = hand.aspect
    return wx * aspect, wy, math.hypot((kx - wx) * aspect, ky - wy)


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(SpellStage)
