"""Scoring letters over time: a video with labelled letter spans, as a signer would sign.

A sequence runs as one live session (tracking, windows and smoothing carry across frames),
and every frame's unthrottled prediction is scored against the letter that holds at that
moment. Two figures matter to a user beyond accuracy:

* **flicker** — changes of the shown letter per second while the true letter holds still
  (a stable recogniser shows 0);
* **time to correct** — from the moment a letter starts until the pipeline first names it.

Labels file (``VIDEO.labels.json`` beside the video, or ``--labels``)::

    {"spans": [{"letter": "B", "start_ms": 0, "end_ms": 1000}, ...]}
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError
from .._graph import Graph
from .._kinds import Kind
from . import inputs as _inputs
from .measures import percentiles, prediction


def labels_for(video: Path, explicit: Path | None) -> list[dict[str, Any]]:
    path = explicit or video.with_name(video.stem + ".labels.json")
    if not path.is_file():
        raise SignifyError(f"{video}: a video needs letter spans in {path.name} (or --labels)")
    spans = json.loads(path.read_text(encoding="utf-8")).get("spans")
    if not isinstance(spans, list) or not spans:
        raise SignifyError(f"{path}: expected {{'spans': [{{letter, start_ms, end_ms}}, ...]}}")
    return spans


def evaluate_sequence(graph: Graph, video: Path, labels: Path | None) -> dict[str, Any]:
    spans = labels_for(video, labels)
    graph.last_slot(Kind.PROBABILITIES)  # refuse a pipeline without predictions up front
    frames: list[tuple[int, str | None]] = []
    timings: list[list[int]] = []
    with graph.open_session("eval-sequence") as session:
        for item in _inputs.read(video, graph.input_kind):
            result = session.process(item.payload, arrival_ms=item.timestamp_ms)
            predicted = prediction(graph, result)
            letter = None if predicted is None else predicted.top()[0]
            frames.append((item.timestamp_ms, letter))
            timings.append(result.timings_ns)
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
    total_ms = np.array([sum(t) for t in timings], np.float64) / 1e6
    return {
        "pipeline": graph.name,
        "data": str(video),
        "frames": len(frames),
        "accuracy": round(float(np.mean([s["accuracy"] for s in scored])), 4) if scored else 0.0,
        "flicker_per_s": round(float(np.mean([s["flicker_per_s"] for s in per_span])), 3),
        "time_to_correct_ms": round(float(np.median(ttc)), 1) if ttc else None,
        "never_correct": [s["letter"] for s in per_span if s["time_to_correct_ms"] is None],
        "spans": per_span,
        "latency_ms": {"total": percentiles(total_ms, (50, 90), 3)},
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
