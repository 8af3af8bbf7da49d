"""``signify-graph serve``: run the WebSocket service until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from .._host import PluginHost
from .common import Subparsers, add_set


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve", help="serve a pipeline over WebSocket (settings from the environment)"
    )
    p.add_argument(
        "pipeline",
        nargs="?",
        default=None,
        metavar="PIPELINE",
        help="pipeline file or shipped name (default: $SIGNIFY_PIPELINE, else default)",
    )
    p.add_argument("--port", type=int, default=None, help="WebSocket port (default: $PORT)")
    p.add_argument("--host", default=None, help="listen address (default: $WEBSOCKET_HOST)")
    p.add_argument("--health-port", type=int, default=None, help="health/metrics port; -1: off")
    p.add_argument(
        "--record",
        default=None,
        metavar="DIR",
        help="record each session's inbound messages to DIR (off by default)",
    )
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..service.logs import configure_logging
    from ..service.server import Service
    from ..service.settings import load_settings

    settings = load_settings(
        pipeline=args.pipeline,
        port=args.port,
        host=args.host,
        health_port=args.health_port,
        record_dir=args.record,
    )
    configure_logging(settings.log_level, settings.log_format)
    service = Service(settings, host, args.overrides)
    asyncio.run(service.run())
    return 0
