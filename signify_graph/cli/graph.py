"""``signify-graph graph``: a resolved graph, every parameter's final value and its origin."""

from __future__ import annotations

import argparse
import sys

from .._host import PluginHost
from .._override_notes import one_node_overrides
from .._pipeline import plan_pipeline
from .common import Subparsers, add_set
from .describe import describe_plan


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("graph", help="show a resolved graph: every parameter and its origin")
    p.add_argument("file", metavar="FILE")
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    plan = plan_pipeline(args.file, host.registry, overrides=args.overrides)
    for note in one_node_overrides(plan, args.overrides):
        print(note, file=sys.stderr)
    print(describe_plan(plan))
    return 0
