"""``signify-graph run``: a pipeline over recorded data, every frame, one JSON line per frame.

Offline there is no newest-frame-wins: every frame is processed, in order, in one session per
stream, so video-mode tracking, windows and throttling behave as in a live session that the
server never had to drop frames for. Each line holds the ``emit`` reply (``null`` when
throttled), the unthrottled prediction, any error, and the time of every stage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from .._graph import Graph, ItemResult
from . import inputs as _inputs
from .measures import prediction
from .progress import Progress


def record(graph: Graph, item: _inputs.Item, index: int, result: ItemResult) -> dict[str, Any]:
    """One output line: the reply, the unthrottled prediction, any error, the stage times."""
    error = result.error
    predicted = prediction(graph, result)
    if predicted is not None:
        letter, confidence = predicted.top()
    return {
        "index": index,
        "source": item.source,
        "label": item.label,
        "timestamp_ms": result.timestamp_ms,
        "reply": result.output if error is None else None,
        "prediction": None
        if predicted is None
        else {"letter": letter, "confidence": round(confidence, 4)},
        "error": None
        if error is None
        else {"code": error.code, "message": error.message, "node": result.failed_node},
        "timings_ms": {
            node: round(ns / 1e6, 4)
            for node, ns in zip(graph.node_ids, result.timings_ns, strict=False)
        },
    }


def run_stream(
    graph: Graph,
    path: Path,
    out: TextIO,
    *,
    fps: float = 15.0,
    session_per_file: bool = False,
    repeat: int = 1,
) -> int:
    """Every frame of ``path`` through ``graph``, a JSON line each to ``out``; how many."""
    progress = Progress(_inputs.count(path), "run")
    index, session = 0, None
    try:
        for item in _inputs.read(path, graph.input_kind, fps):
            if session is None or session_per_file:
                if session is not None:
                    session.close()
                session = graph.open_session(f"run-{index}")
                offset = item.timestamp_ms
            for again in range(repeat):
                stamp = item.timestamp_ms - offset + again * round(1000 / fps)
                result = session.process(item.payload, arrival_ms=stamp)
                out.write(json.dumps(record(graph, item, index, result)) + "\n")
                index += 1
            progress.advance()
    finally:
        if session is not None:
            session.close()
        progress.close()
    return index
