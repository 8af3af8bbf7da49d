"""``signify-graph bench``: where the time goes, per stage (see :mod:`..tools.bench`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._host import PluginHost
from .._kinds import Kind
from .common import Subparsers, add_set, load


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="per-stage latency, engine overhead, vs the old service's way")
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument("--frames", type=int, default=600, metavar="N", help="frames to measure")
    p.add_argument("--warmup", type=int, default=60, metavar="N", help="frames before measuring")
    p.add_argument(
        "--input",
        type=Path,
        default=Path("tests/data/photos"),
        metavar="PATH",
        help="a folder of photos (default: the committed test photos)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..tools.bench import measure, render, webcam_frames
    from ..tools.inputs import read

    graph = load(args.pipeline, host, args.overrides)
    try:
        if graph.input_kind is Kind.ENCODED_IMAGE:
            items: list[Any] = webcam_frames(args.input)
        else:
            items = [i.payload for i in read(args.input, graph.input_kind)]
        if not items:
            raise SystemExit(f"signify-graph: error: no usable input in {args.input}")
        figures = measure(graph, items, args.frames, args.warmup)
    finally:
        graph.close()
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    return 0
