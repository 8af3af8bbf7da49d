"""``signify-graph stages``: the installed stages, their parameters, ports and providers."""

from __future__ import annotations

import argparse
import json

from .._host import PluginHost
from .common import Subparsers
from .describe import describe_stages, stage_record


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("stages", help="list installed stages and their parameters")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return p


def run(args: argparse.Namespace, host: PluginHost) -> int:
    if args.json:
        print(json.dumps([stage_record(info) for info in host.registry], indent=2))
    else:
        print(describe_stages(host.registry).rstrip())
    return 0
