"""Replaying a recorded session (``signify-graph replay``): what differs from the recording.

The recording format, its writer and its reader live with the service
(:mod:`..service.record`); this compares what a fresh run of a pipeline answers with what
the live session answered.
"""

from __future__ import annotations

import json
from typing import Any

from ..service.record import Outcome, Recording


def _canonical(outcome: Outcome) -> Any:
    """JSON round trip, so recorded (parsed) and fresh (numpy-born) values compare alike."""
    return json.loads(json.dumps({"reply": outcome.reply, "error": outcome.error}))


def _summary(value: Any) -> str:
    if value["error"]:
        return f"error {value['error']['code']}"
    reply = value["reply"]
    if reply is None:
        return "(throttled)"
    return f"{reply.get('status')} {reply.get('letter')} {reply.get('confidence')}"


def differences(recording: Recording, fresh: list[Outcome]) -> list[dict[str, Any]]:
    """Every message whose replayed outcome differs from the recorded one, and a count
    mismatch as a last entry with ``message: None``."""
    found = []
    for old, new in zip(recording.outcomes, fresh, strict=False):
        before, after = _canonical(old), _canonical(new)
        if before != after:
            found.append({"message": old.index, "recorded": before, "replayed": after})
    if len(recording.outcomes) != len(fresh):
        found.append({"message": None, "recorded": len(recording.outcomes), "replayed": len(fresh)})
    return found


def format_differences(found: list[dict[str, Any]]) -> list[str]:
    """The first 50 differences and a verdict, a line each."""
    lines = []
    for diff in found[:50]:
        if diff["message"] is None:
            lines.append(
                f"  outcome count differs: {diff['recorded']} recorded, {diff['replayed']} now"
            )
            continue
        lines.append(
            f"  message {diff['message']}: {_summary(diff['recorded'])} → "
            f"{_summary(diff['replayed'])}"
        )
    lines.append("identical replies" if not found else f"{len(found)} difference(s)")
    return lines
