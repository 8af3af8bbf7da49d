"""``signify-graph run``: a pipeline over recorded data (see :mod:`..tools.run`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._host import PluginHost
from .common import Subparsers, add_set, check_output, load


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
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
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..tools.inputs import check_input
    from ..tools.run import run_stream

    check_output(args.output, "--output")
    check_input(args.input)
    graph = load(args.pipeline, host, args.overrides, args.input)
    options = {"fps": args.fps, "session_per_file": args.session_per_file, "repeat": args.repeat}
    try:
        if args.output:
            with args.output.open("w", encoding="utf-8") as out:
                frames = run_stream(graph, args.input, out, **options)
            print(f"{frames} frames → {args.output}", file=sys.stderr)
        else:
            run_stream(graph, args.input, sys.stdout, **options)
    finally:
        graph.close()
    return 0
