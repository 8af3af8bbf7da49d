"""The ``signify-graph`` command line.

Every command that loads a pipeline accepts ``--set NODE.PARAM=VALUE`` (repeatable). Errors a
user can cause end as one line per problem on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from ._describe import describe_plan, describe_stages, stage_record
from ._errors import PipelineInvalid, SignifyError
from ._host import PluginHost, create_host
from ._native_noise import filter_native_stderr
from ._pipeline import plan_pipeline
from ._schema import pipeline_schema

Command = Callable[[argparse.Namespace, PluginHost], int]
_COMMANDS: dict[str, Command] = {}


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NODE.PARAM=VALUE",
        help="override a node parameter (repeatable); validated like the file",
    )


def _validate(args: argparse.Namespace, host: PluginHost) -> int:
    from ._graph import build_graph

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


def _stages(args: argparse.Namespace, host: PluginHost) -> int:
    if args.json:
        print(json.dumps([stage_record(info) for info in host.registry], indent=2))
    else:
        print(describe_stages(host.registry).rstrip())
    return 0


def _schema(args: argparse.Namespace, host: PluginHost) -> int:
    text = json.dumps(pipeline_schema(host.registry), indent=2, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _graph(args: argparse.Namespace, host: PluginHost) -> int:
    plan = plan_pipeline(args.file, host.registry, overrides=args.overrides)
    print(describe_plan(plan))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signify-graph",
        description="Real-time ASL fingerspelling recognition as a graph of plugin stages.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="validate pipeline files (and load their models)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--no-load", action="store_true", help="check the file only; load no model")
    _add_set(p)
    _COMMANDS["validate"] = _validate

    p = sub.add_parser("stages", help="list installed stages and their parameters")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    _COMMANDS["stages"] = _stages

    p = sub.add_parser("schema", help="print the JSON Schema of pipeline files")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    _COMMANDS["schema"] = _schema

    p = sub.add_parser("graph", help="show a resolved graph: every parameter and its origin")
    p.add_argument("file", metavar="FILE")
    _add_set(p)
    _COMMANDS["graph"] = _graph

    from . import _commands

    _commands.register(sub, _COMMANDS, _add_set)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # a real process, not a test calling main() in-process
        filter_native_stderr()
    try:
        host = create_host()
        return _COMMANDS[args.command](args, host)
    except PipelineInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except SignifyError as exc:
        print(f"signify-graph: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `signify-graph stages | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
