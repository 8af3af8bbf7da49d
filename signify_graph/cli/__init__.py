"""The ``signify-graph`` command line: one module per command, all registered the same way.

Each command module (``validate``, ``serve``, ``eval``…) defines ``add_parser(sub)`` and
``run(args, host) -> exit code``. The modules themselves are small; what a command needs
(the server, the research tools, MediaPipe) is imported inside its ``run``, so ``validate``
and ``stages`` start without importing the server or the tools.

Every command that loads a pipeline accepts ``--set NODE.PARAM=VALUE`` (repeatable). Errors a
user can cause end as one line per problem on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from .._errors import PipelineInvalid, SignifyError
from .._host import PluginHost, create_host
from .common import Subparsers
from .native_noise import filter_native_stderr

#: The commands, in the order ``--help`` lists them; each is the module of that name here.
COMMANDS = (
    "validate",
    "stages",
    "schema",
    "graph",
    "serve",
    "run",
    "replay",
    "bench",
    "eval",
    "loadtest",
)


class Command(Protocol):
    """What a command module provides."""

    def add_parser(self, sub: Subparsers) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace, host: PluginHost) -> int: ...


def command(name: str) -> Command:
    module: Command = importlib.import_module(f"{__name__}.{name}")
    return module


def _version() -> str:
    try:
        return version("signify-graph")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signify-graph",
        description="Real-time ASL fingerspelling recognition as a graph of plugin stages.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        command(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # a real process, not a test calling main() in-process
        filter_native_stderr()
    try:
        host = create_host()
        return command(args.command).run(args, host)
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
