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
    sessions = p.add_mutually_exclusive_group()
    sessions.add_argument(
        "--session-per-file",
        dest="session_per_file",
        action="store_true",
        default=None,
        help="a fresh session for every photo/sample (the default for a photo folder)",
    )
    sessions.add_argument(
        "--one-stream",
        dest="session_per_file",
        action="store_false",
        help="one session for the whole input, as consecutive frames (the default for a video "
        "or a landmark file)",
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
    per_file = args.session_per_file
    if per_file is None:
        # Photos in a folder are separate shots of separate hands: carrying one photo's
        # tracking, window and smoothing into the next would score a blend of both.
        per_file = args.input.is_dir()
    options = {"fps": args.fps, "session_per_file": per_file, "repeat": args.repeat}
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
