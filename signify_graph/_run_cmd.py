"""``signify-graph run``: a pipeline over recorded data, every frame, one JSON line per frame.

Offline there is no newest-frame-wins: every frame is processed, in order, in one session per
stream, so video-mode tracking, windows and throttling behave as in a live session that the
server never had to drop frames for. Each line holds the ``emit`` reply (``null`` when
throttled), the unthrottled prediction, any error, and the time of every stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from . import _inputs
from ._entry import plan_for_data
from ._graph import Graph, ItemResult, build_graph
from ._host import PluginHost
from ._kinds import Kind, Probabilities
from ._pipeline import plan_pipeline
from ._progress import Progress


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help="run a pipeline over photos, a video or landmarks (JSONL out)")
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument(
        "--input",
        required=True,
        type=Path,
        metavar="PATH",
        help="a folder of photos, a video (mp4/avi/webm) or a landmark .npz",
    )
    p.add_argument("--output", type=Path, metavar="FILE.jsonl", help="default: stdout")
    p.add_argument(
        "--fps",
        type=float,
        default=15.0,
        help="frame rate assumed for photos and landmarks (videos use their own)",
    )
    p.add_argument(
        "--session-per-file",
        action="store_true",
        help="a fresh session for every photo/sample instead of one stream",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="feed each photo N times (a held pose); useful with --session-per-file",
    )
    return p


def prediction(graph: Graph, result: ItemResult) -> dict[str, Any] | None:
    """The top letter of the last probabilities in the graph, before any throttling."""
    for node_id in reversed(graph.find(Kind.PROBABILITIES)):
        value = result.values[graph.node_ids.index(node_id)] if result.error is None else None
        if isinstance(value, Probabilities):
            letter, confidence = value.top()
            return {"letter": letter, "confidence": round(confidence, 4)}
    return None


def record(graph: Graph, item: _inputs.Item, index: int, result: ItemResult) -> dict[str, Any]:
    error = result.error
    return {
        "index": index,
        "source": item.source,
        "label": item.label,
        "timestamp_ms": result.timestamp_ms,
        "reply": result.output if error is None else None,
        "prediction": prediction(graph, result),
        "error": None
        if error is None
        else {"code": error.code, "message": error.message, "node": result.failed_node},
        "timings_ms": {
            node: round(ns / 1e6, 4)
            for node, ns in zip(graph.node_ids, result.timings_ns, strict=False)
        },
    }


def run_stream(graph: Graph, path: Path, out: TextIO, args: argparse.Namespace) -> int:
    progress = Progress(_inputs.count(path), "run")
    index, session = 0, None
    try:
        for item in _inputs.read(path, graph.input_kind, args.fps):
            if session is None or args.session_per_file:
                if session is not None:
                    session.close()
                session = graph.open_session(f"run-{index}")
                offset = item.timestamp_ms
            for repeat in range(args.repeat):
                stamp = item.timestamp_ms - offset + repeat * round(1000 / args.fps)
                result = session.process(item.payload, arrival_ms=stamp)
                out.write(json.dumps(record(graph, item, index, result)) + "\n")
                index += 1
            progress.advance()
    finally:
        if session is not None:
            session.close()
        progress.close()
    return index


def run(args: argparse.Namespace, host: PluginHost) -> int:
    plan = plan_pipeline(args.pipeline, host.registry, overrides=args.overrides)
    plan, note = plan_for_data(plan, args.input, host.registry)
    if note:
        print(note, file=sys.stderr)
    graph = build_graph(plan, host)
    try:
        if args.output:
            with args.output.open("w", encoding="utf-8") as out:
                frames = run_stream(graph, args.input, out, args)
            print(f"{frames} frames → {args.output}", file=sys.stderr)
        else:
            run_stream(graph, args.input, sys.stdout, args)
    finally:
        graph.close()
    return 0
