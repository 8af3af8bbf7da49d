"""``signify-graph replay``: re-run a recorded session and compare the replies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._graph import build_graph
from ._host import PluginHost
from ._pipeline import plan_pipeline
from ._record import Outcome, load_recording, replay


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("replay", help="replay a recorded session through a pipeline and compare")
    p.add_argument("recording", type=Path, metavar="FILE")
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return p


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


def run(args: argparse.Namespace, host: PluginHost) -> int:
    recording = load_recording(args.recording)
    # The live session's --set overrides are part of "the same pipeline" unless replaced.
    overrides = args.overrides or recording.header.get("overrides", [])
    graph = build_graph(plan_pipeline(args.pipeline, host.registry, overrides=overrides), host)
    try:
        fresh = list(replay(recording, graph))
    finally:
        graph.close()
    differences = []
    for old, new in zip(recording.outcomes, fresh, strict=False):
        before, after = _canonical(old), _canonical(new)
        if before != after:
            differences.append({"message": old.index, "recorded": before, "replayed": after})
    if len(recording.outcomes) != len(fresh):
        differences.append(
            {"message": None, "recorded": len(recording.outcomes), "replayed": len(fresh)}
        )
    if args.json:
        print(
            json.dumps(
                {"frames": len(fresh), "identical": not differences, "differences": differences},
                indent=2,
            )
        )
    else:
        print(f"{args.recording}: {len(fresh)} frames replayed through {graph.name}")
        for diff in differences[:50]:
            if diff["message"] is None:
                print(
                    f"  outcome count differs: {diff['recorded']} recorded, {diff['replayed']} now"
                )
                continue
            print(
                f"  message {diff['message']}: {_summary(diff['recorded'])} → "
                f"{_summary(diff['replayed'])}"
            )
        print("identical replies" if not differences else f"{len(differences)} difference(s)")
    return 0 if not differences else 1
