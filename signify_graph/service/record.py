"""Record live sessions and replay them exactly.

With ``serve --record DIR`` every session writes ``DIR/<session>.jsonl``. **What is stored:**
every inbound message as received (camera frames included — recordings are personal data;
recording is off unless asked for), its arrival time, which messages were processed and
with which engine timestamp (newest-frame-wins drops some), every reset and text edit as
applied, and every reply or error the graph produced. Nothing else: no addresses, no
headers, no tokens.

Replaying feeds the processed frames, resets and edits, in their recorded order and with their
recorded timestamps, to a fresh session of a pipeline. With the same pipeline and models the
replies are identical (a test proves it); with another pipeline the differences are listed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._errors import SignifyError
from .._graph import Graph
from .._kinds import Control, TextEdit
from .protocol import Frame, MessageParser, ProtocolError

FORMAT = "signify-recording"
#: 2 added text edits (``{"edit": "delete"}``); a version 1 recording has none, and reads as is.
VERSION = 2
READABLE = (1, 2)


class SessionRecorder:
    """Appends one session's events to a JSON Lines file (buffered; closed with the session)."""

    def __init__(self, directory: Path, session_id: str, header: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{session_id}.jsonl"
        self._file: IO[str] = self.path.open("w", encoding="utf-8")
        self._count = 0
        self._write(
            {
                "format": FORMAT,
                "version": VERSION,
                "session": session_id,
                "started_unix": time.time(),
                **header,
            }
        )

    def _write(self, event: dict[str, Any]) -> None:
        self._file.write(json.dumps(event, separators=(",", ":")) + "\n")

    def inbound(self, t: float, message: str | bytes) -> int:
        index = self._count
        self._count += 1
        if isinstance(message, str):
            self._write({"in": index, "t": round(t, 6), "text": message})
        else:
            self._write(
                {"in": index, "t": round(t, 6), "binary": base64.b64encode(message).decode()}
            )
        return index

    def process(self, index: int, arrival_ms: int) -> None:
        self._write({"process": index, "arrival_ms": arrival_ms})

    def reset(self, target: str | None) -> None:
        self._write({"reset": target})

    def edit(self, action: str) -> None:
        self._write({"edit": action})

    def result(
        self, index: int, reply: dict[str, Any] | None, error: dict[str, str] | None
    ) -> None:
        self._write({"out": index, "reply": reply, "error": error})

    def close(self) -> None:
        self._file.close()


@dataclass
class Outcome:
    """What the graph produced for one processed message."""

    index: int
    reply: dict[str, Any] | None
    error: dict[str, str] | None


@dataclass
class Recording:
    header: dict[str, Any]
    messages: dict[int, str | bytes] = field(default_factory=dict)
    #: ("process", index, arrival_ms), ("reset", target) or ("edit", action), in the order
    #: they were applied.
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def load_recording(path: str | Path) -> Recording:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SignifyError(f"{path}: cannot read recording: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SignifyError(f"{path}: not a recording (not UTF-8 text, so not JSONL)") from None
    if not lines:
        raise SignifyError(f"{path}: empty recording")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise SignifyError(
            f"{path}:1: not a recording (a JSONL file from serve --record)"
        ) from None
    if not isinstance(header, dict):
        header = {}
    if header.get("format") != FORMAT or header.get("version") not in READABLE:
        raise SignifyError(f"{path}: not a signify recording of version {READABLE[0]}–{VERSION}")
    recording = Recording(header)
    for number, line in enumerate(lines[1:], start=2):
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SignifyError(f"{path}:{number}: corrupt event: {exc}") from None
        if "in" in event:
            data = event["text"] if "text" in event else base64.b64decode(event["binary"])
            recording.messages[event["in"]] = data
        elif "process" in event:
            recording.steps.append(("process", event["process"], event["arrival_ms"]))
        elif "reset" in event:
            recording.steps.append(("reset", event["reset"]))
        elif "edit" in event:
            recording.steps.append(("edit", event["edit"]))
        elif "out" in event:
            recording.outcomes.append(Outcome(event["out"], event["reply"], event["error"]))
    return recording


def replay(recording: Recording, graph: Graph) -> Iterator[Outcome]:
    """Re-run a recording's processed frames, resets and edits through a fresh session of
    ``graph``."""
    parser = MessageParser(graph.input_kind, None)
    with graph.open_session("replay") as session:
        for step in recording.steps:
            if step[0] == "reset":
                session.reset(Control(step[1]))
                continue
            if step[0] == "edit":
                session.edit(TextEdit(step[1]))
                continue
            _, index, arrival_ms = step
            try:
                parsed = parser.parse(recording.messages[index])
            except ProtocolError as exc:
                yield Outcome(index, None, {"code": exc.code, "message": exc.message})
                continue
            assert isinstance(parsed, Frame)
            result = session.process(parsed.payload, arrival_ms=arrival_ms)
            if result.error is not None:
                yield Outcome(
                    index, None, {"code": result.error.code, "message": result.error.message}
                )
            else:
                yield Outcome(index, result.output, None)
