"""``signify-graph schema``: the JSON Schema of pipeline files, installed stages included."""

from __future__ import annotations

import argparse
import json
import sys

from .._host import PluginHost
from .._schema import pipeline_schema
from .common import Subparsers


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("schema", help="print the JSON Schema of pipeline files")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    return p


def run(args: argparse.Namespace, host: PluginHost) -> int:
    text = json.dumps(pipeline_schema(host.registry), indent=2, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0
