"""``signify-graph validate``: every problem of pipeline files at once, as FILE:LINE:COL."""

from __future__ import annotations

import argparse
import sys

from .._errors import PipelineInvalid
from .._graph import build_graph
from .._host import PluginHost
from .._pipeline import plan_pipeline
from .common import Subparsers, add_set


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="validate pipeline files (and load their models)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--no-load", action="store_true", help="check the file only; load no model")
    return add_set(p)


def run(args: argparse.Namespace, host: PluginHost) -> int:
    failed = False
    for file in args.files:
        try:
            plan = plan_pipeline(file, host.registry, overrides=args.overrides)
            if not args.no_load:
                build_graph(plan, host, announce=False).close()
        except PipelineInvalid as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{file}: ok ({len(plan.nodes)} nodes, input {plan.input_kind.value})")
    return 1 if failed else 0
