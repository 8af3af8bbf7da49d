"""Scoring letters over time: a video with labelled letter spans, as a signer would sign.

A sequence runs as one live session (tracking, windows and smoothing carry across frames),
and every frame's unthrottled prediction is scored against the letter that holds at that
moment. Two figures matter to a user beyond accuracy:

* **flicker** — changes of the shown letter per second while the true letter holds still
  (a stable recogniser shows 0);
* **time to correct** — from the moment a letter starts until the pipeline first names it.

Labels file (``VIDEO.labels.json`` beside the video, or ``--labels``)::

    {"spans": [{"letter": "B", "start_ms": 0, "end_ms": 1000}, ...]}

Labels that also give the ``text`` spelled are scored as words (:mod:`.spelling`), which
plays its sequences with :func:`play` too.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError
from .._graph import Graph
from .._kinds import Kind, Spelling
from . import inputs as _inputs
from .measures import percentiles, prediction


def labels_path(data: Path) -> Path:
    """Where a sequence's labels are: ``X.labels.json`` beside ``X.mp4`` or ``X.npz``."""
    return data.with_name(data.stem + ".labels.json")


def read_labels(path: Path) -> dict[str, Any]:
    """A labels file as JSON, refused with one line when it is not an object."""
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignifyError(f"{path}: cannot read labels: {exc}") from None
    if not isinstance(labels, dict):
        raise SignifyError(f"{path}: expected a JSON object with 'text' and/or 'spans'")
    return labels


def labels_for(video: Path, explicit: Path | None) -> list[dict[str, Any]]:
    path = explicit or labels_path(video)
    if not path.is_file():
        raise SignifyError(f"{video}: a video needs letter spans in {path.name} (or --labels)")
    spans = read_labels(path).get("spans")
    if not isinstance(spans, list) or not spans:
        raise SignifyError(f"{path}: expected {{'spans': [{{letter, start_ms, end_ms}}, ...]}}")
    return spans


@dataclass(frozen=True, slots=True)
class Played:
    """One frame of a sequence as the pipeline saw it."""

    timestamp_ms: int
    #: The top letter of the frame's unthrottled prediction (``None``: no hand).
    letter: str | None
    #: What the ``spell`` node said for this frame, where the pipeline spells.
    spelling: Spelling | None
    timings_ns: list[int]


def play(graph: Graph, data: Path, fps: float = 15.0) -> list[Played]:
    """Every frame of ``data`` (a video, or a landmark file at ``fps``) through one live
    session of ``graph``, with each frame's own timestamp."""
    spelled = graph.find(Kind.SPELLING)
    slot = graph.node_ids.index(spelled[-1]) if spelled else None
    frames: list[Played] = []
    with graph.open_session(f"sequence-{data.stem}") as session:
        for item in _inputs.read(data, graph.input_kind, fps):
            result = session.process(item.payload, arrival_ms=item.timestamp_ms)
            predicted = prediction(graph, result)
            spelling = None
            if slot is not None and result.error is None:
                value = result.values[slot]
                spelling = value if isinstance(value, Spelling) else None
            letter = None if predicted is None else predicted.top()[0]
            frames.append(Played(item.timestamp_ms, letter, spelling, result.timings_ns))
    return frames


def frame_latency(frames: list[Played]) -> dict[str, dict[str, float]]:
    """Per-frame latency of the whole graph, p50 and p90 (ms)."""
    total_ms = np.array([sum(f.timings_ns) for f in frames], np.float64) / 1e6
    return {"total": percentiles(total_ms, (50, 90), 3)}


def evaluate_sequence(graph: Graph, video: Path, labels: Path | None) -> dict[str, Any]:
    spans = labels_for(video, labels)
    graph.last_slot(Kind.PROBABILITIES)  # refuse a pipeline without predictions up front
    played = play(graph, video)
    report = score_spans([(f.timestamp_ms, f.letter) for f in played], spans)
    return {
        "pipeline": graph.name,
        "data": str(video),
        "frames": len(played),
        **report,
        "latency_ms": frame_latency(played),
    }


def score_spans(
    frames: list[tuple[int, str | None]], spans: list[dict[str, Any]]
) -> dict[str, Any]:
    """Frame accuracy, flicker and time to correct of each letter span, and their summary."""
    per_span: list[dict[str, Any]] = []
    for span in spans:
        start, end, truth = int(span["start_ms"]), int(span["end_ms"]), str(span["letter"])
        inside = [(t, letter) for t, letter in frames if start <= t < end]
        shown = [letter for _, letter in inside if letter is not None]
        changes = sum(a != b for a, b in itertools.pairwise(shown))
        first = next((t for t, letter in inside if letter == truth), None)
        per_span.append(
            {
                "letter": truth,
                "frames": len(inside),
                "accuracy": round(sum(x == truth for x in shown) / len(shown), 4)
                if shown
                else None,
                "flicker_per_s": round(changes / max((end - start) / 1000, 1e-9), 3),
                "time_to_correct_ms": None if first is None else first - start,
            }
        )
    scored = [s for s in per_span if s["accuracy"] is not None]
    ttc = [float(s["time_to_correct_ms"]) for s in per_span if s["time_to_correct_ms"] is not None]
    return {
        "accuracy": round(float(np.mean([s["accuracy"] for s in scored])), 4) if scored else 0.0,
        "flicker_per_s": round(float(np.mean([s["flicker_per_s"] for s in per_span])), 3),
        "time_to_correct_ms": round(float(np.median(ttc)), 1) if ttc else None,
        "never_correct": [s["letter"] for s in per_span if s["time_to_correct_ms"] is None],
        "spans": per_span,
    }


def format_sequence(report: dict[str, Any]) -> str:
    lines = [
        f"pipeline '{report['pipeline']}' on {report['data']} ({report['frames']} frames, one "
        "session)",
        f"frame accuracy {report['accuracy']:.1%}   flicker {report['flicker_per_s']:.2f} "
        f"changes/s   time to correct (median) {report['time_to_correct_ms']} ms",
        "",
        "letter  frames  accuracy  flicker/s  time to correct",
    ]
    for span in report["spans"]:
        accuracy = "–" if span["accuracy"] is None else f"{span['accuracy']:.0%}"
        ttc = "never" if span["time_to_correct_ms"] is None else f"{span['time_to_correct_ms']} ms"
        lines.append(
            f"{span['letter']:>6} {span['frames']:>7} {accuracy:>9} "
            f"{span['flicker_per_s']:>10.2f}  {ttc}"
        )
    return "\n".join(lines)
