"""``emit``: build the reply a client receives, and decide whether to send it at all.

The reply keeps the old service's fields (``docs/MIGRATING.md``), so clients in the field
work unchanged, and adds
explicit ones so nobody has to guess:

* ``maxarg_letter`` — the most probable letter (``null`` when there is no hand: we never
  invent one);
* ``target_arg_prob`` — the probability of the target letter when one is set, otherwise of
  the top letter (the old service's two meanings; ``target`` says which applies);
* ``status`` — ``ok``, ``warming_up`` (fewer than ``min_frames`` frames behind the answer) or
  ``no_hand``; ``letter``/``confidence`` — the top letter and its probability;
  ``top`` — the ``top_k`` best letters; ``seq`` — the frame's number in the session;
* with a ``spell`` node on the ``spelling`` port: ``text`` (spelled so far), ``committed``
  (the characters this frame committed, ``""`` if none) and ``pending`` (``{"letter",
  "progress"}`` of the letter building, or ``null``). Without one, none of the three appear,
  so a client of a pipeline that does not spell sees exactly the fields it always saw.

Throttling follows the old service (``THROTTLE_MIN_INTERVAL_MS``,
``THROTTLE_PROBABILITY_THRESHOLD``): a reply needs ``min_interval_ms`` since the last one
*and* a change (letter, status, or probability by more than ``min_prob_delta``). Unlike the
old service, a reply is also sent every ``heartbeat_ms`` without change, so a client can
tell "stable" from "stalled". A frame that commits a character is always sent, throttle or
not: ``committed`` is an event a client must not miss. A throttled frame outputs ``None``:
nothing is sent.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from signify_graph import (
    Control,
    FrameContext,
    Hand,
    Kind,
    Params,
    Port,
    Probabilities,
    Reply,
    Spelling,
    Stage,
    StageRegistry,
    StageSession,
    hookimpl,
)


class EmitParams(Params):
    min_interval_ms: int = Field(75, ge=0, le=60_000)
    """Minimum time between two replies (the old ``THROTTLE_MIN_INTERVAL_MS``); 0 = every frame."""
    min_prob_delta: float = Field(0.03, ge=0.0, le=1.0)
    """Probability change that counts as news (the old ``THROTTLE_PROBABILITY_THRESHOLD``)."""
    heartbeat_ms: int = Field(1000, ge=0, le=600_000)
    """Send an unchanged reply after this long anyway, so silence means trouble. 0 = never."""
    top_k: int = Field(3, ge=0, le=100)
    """How many of the best letters to list in ``top``."""
    min_frames: int = Field(2, ge=1, le=1000)
    """Frames behind an answer below which its status is ``warming_up``."""
    include_landmarks: bool = False
    """Include the hand's 21 image-normalised landmarks (for drawing them over the video)."""


class EmitStage(Stage):
    """Build the client's reply (the old fields plus explicit status) and throttle it.

    Outputs ``None`` for a throttled frame. The target letter of a practice game is set by a
    reset (control message) and reported in every reply.
    """

    name = "emit"
    params_model = EmitParams
    inputs: ClassVar = {
        "probabilities": Port(Kind.PROBABILITIES),
        "hand": Port(Kind.HAND, optional=True),
        "spelling": Port(Kind.SPELLING, optional=True),
    }
    output = Kind.REPLY
    inline_safe = True

    def open(self, session_id: str) -> StageSession:
        return _EmitSession(self.params)


class _EmitSession(StageSession):
    def __init__(self, params: EmitParams) -> None:
        self._p = params
        self._target: str | None = None
        self._last_time: int | None = None
        self._last_key: tuple[str | None, str] | None = None
        self._last_prob = 0.0

    def process(
        self,
        frame: FrameContext,
        probs: Probabilities | None,
        hand: Hand | None = None,
        spelling: Spelling | None = None,
    ) -> Reply | None:
        reply = self._build(frame, probs, hand)
        if spelling is not None:
            pending = spelling.pending
            reply["text"] = spelling.text
            reply["committed"] = spelling.committed
            reply["pending"] = (
                None if pending is None else {"letter": pending, "progress": spelling.progress}
            )
        key = (reply["letter"], reply["status"])
        prob = float(reply["target_arg_prob"])
        now, p = frame.timestamp_ms, self._p
        if self._last_time is not None and not (spelling is not None and spelling.committed):
            elapsed = now - self._last_time
            changed = key != self._last_key or abs(prob - self._last_prob) > p.min_prob_delta
            heartbeat = p.heartbeat_ms > 0 and elapsed >= p.heartbeat_ms
            if elapsed < p.min_interval_ms or not (changed or heartbeat):
                return None
        self._last_time, self._last_key, self._last_prob = now, key, prob
        return reply

    def _build(self, frame: FrameContext, probs: Probabilities | None, hand: Hand | None) -> Reply:
        target = self._target
        if probs is None:
            reply: Reply = {
                "maxarg_letter": None,
                "target_arg_prob": 0.0,
                "status": "no_hand",
                "letter": None,
                "confidence": 0.0,
                "target": target,
                "top": [],
                "frames": 0,
                "seq": frame.sequence,
            }
        else:
            values = probs.values
            best = int(np.argmax(values))
            letter, confidence = probs.labels[best], float(values[best])
            if target is not None and target in probs.labels:
                target_prob = float(values[probs.labels.index(target)])
            else:
                target_prob = confidence
            order = np.argsort(-values, kind="stable")[: self._p.top_k]  # ties: label order
            reply = {
                "maxarg_letter": letter,
                "target_arg_prob": round(target_prob, 4),
                "status": "ok" if probs.frames >= self._p.min_frames else "warming_up",
                "letter": letter,
                "confidence": round(confidence, 4),
                "target": target,
                "top": [
                    {"letter": probs.labels[i], "p": round(float(values[i]), 4)} for i in order
                ],
                "frames": probs.frames,
                "seq": frame.sequence,
            }
        if self._p.include_landmarks:
            reply["landmarks"] = None if hand is None else np.round(hand.landmarks, 4).tolist()
        return reply

    def reset(self, control: Control) -> None:
        self._target = control.target
        self._last_time = None
        self._last_key = None


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(EmitStage)
