"""``signify-graph serve``: run the WebSocket service until SIGTERM, in one process or, with
``--workers N``, in N worker processes sharing the port (see :mod:`..service.supervisor`)."""

from __future__ import annotations

import argparse
import asyncio
import sys

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
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes sharing the port (default: $SIGNIFY_PROCESSES, else one per "
        "CPU core); 1: one process",
    )
    p.add_argument(
        "--record",
        default=None,
        metavar="DIR",
        help="record each session's inbound messages to DIR (off by default)",
    )
    # Internal: set by the supervisor of --workers for each worker it starts.
    p.add_argument("--worker-id", type=int, default=None, help=argparse.SUPPRESS)
    return add_set(p)


def _worker_command(args: argparse.Namespace, pipeline: str) -> list[str]:
    """The command line of one worker: this one's, settled (the port is the supervisor's)."""
    command = [sys.executable, "-m", "signify_graph.cli", "serve", pipeline]
    for override in args.overrides:
        command += ["--set", override]
    if args.host is not None:
        command += ["--host", args.host]
    if args.record is not None:
        command += ["--record", args.record]
    return command


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..service.logs import configure_logging
    from ..service.settings import load_settings

    settings = load_settings(
        pipeline=args.pipeline,
        port=args.port,
        host=args.host,
        health_port=args.health_port,
        record_dir=args.record,
        processes=args.workers,
    )
    configure_logging(settings.log_level, settings.log_format)
    if args.worker_id is not None:
        from ..service.server import Service
        from ..service.supervisor import follow_parent, say_ready

        follow_parent()
        service = Service(settings, host, args.overrides, worker=args.worker_id)
        asyncio.run(service.run(ready=say_ready))
        return 0
    if settings.process_count == 1:
        from ..service.server import Service

        service = Service(settings, host, args.overrides)
        asyncio.run(service.run())
        return 0
    from .._pipeline import plan_pipeline
    from ..service.supervisor import Supervisor

    # A pipeline file or a --set that is wrong fails here, before any worker starts; a model
    # that does not load fails in worker 0, which starts alone (see Supervisor). Nothing here
    # imports the server: the supervisor has no use for it, and a failing start is quicker.
    plan_pipeline(settings.pipeline, host.registry, overrides=args.overrides)
    command = _worker_command(args, settings.pipeline)
    return asyncio.run(Supervisor(settings, command, settings.process_count).run())
