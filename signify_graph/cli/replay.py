"""``signify-graph replay``: re-run a recorded session and compare the replies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .._host import PluginHost
from .common import Subparsers, add_set, load


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("replay", help="replay a recorded session through a pipeline and compare")
    p.add_argument("recording", type=Path, metavar="FILE")
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..service.record import load_recording, replay
    from ..tools.replay import differences, format_differences

    recording = load_recording(args.recording)
    # The live session's --set overrides are part of "the same pipeline" unless replaced.
    graph = load(args.pipeline, host, args.overrides or recording.header.get("overrides", []))
    try:
        fresh = list(replay(recording, graph))
    finally:
        graph.close()
    found = differences(recording, fresh)
    if args.json:
        report = {"frames": len(fresh), "identical": not found, "differences": found}
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.recording}: {len(fresh)} frames replayed through {graph.name}")
        print("\n".join(format_differences(found)))
    return 0 if not found else 1
