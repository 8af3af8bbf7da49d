"""``signify-graph loadtest``: real WebSocket clients against a running server (see
:mod:`..tools.loadtest`). It loads no pipeline, so it takes no ``--set``."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from .._host import PluginHost
from .common import Subparsers


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("loadtest", help="drive a running server with real WebSocket clients")
    p.add_argument("url", metavar="URL", help="e.g. ws://127.0.0.1:8765/")
    p.add_argument(
        "--clients", type=int, default=4, help="concurrent clients (default: %(default)s)"
    )
    p.add_argument(
        "--fps",
        type=float,
        default=15.0,
        help="frames per second per client (default: %(default)s)",
    )
    p.add_argument(
        "--duration", type=float, default=30.0, metavar="S", help="seconds (default: %(default)s)"
    )
    p.add_argument(
        "--source",
        type=Path,
        default=Path("tests/data/photos"),
        metavar="PATH",
        help="a folder of photos, or a landmark .npz (X, y) (default: %(default)s, in a checkout)",
    )
    p.add_argument(
        "--metrics",
        default=None,
        metavar="URL",
        help="the server's /metrics (default: http://HOST:8080/metrics if it answers)",
    )
    p.add_argument(
        "--ramp",
        type=float,
        default=2.0,
        metavar="S",
        help="spread client starts over S seconds (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--cycles",
        type=int,
        default=0,
        metavar="N",
        help="instead: N connect → one frame → disconnect cycles, then compare the "
        "server's memory, fds and threads with before (default: %(default)s, off)",
    )
    return p


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..tools.loadtest import cycle, drive, render, scrape

    if args.metrics is None:
        from urllib.parse import urlsplit

        guess = f"http://{urlsplit(args.url).hostname}:8080/metrics"
        args.metrics = guess if scrape(guess) else None
    if args.cycles:
        result = asyncio.run(cycle(args))
        print(json.dumps(result, indent=2) if args.json else render(result))
        return 0 if not result["failures"] else 1
    summary = asyncio.run(drive(args))
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0 if not summary["failed_clients"] and not summary["errors"] else 1
