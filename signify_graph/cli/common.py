"""What the commands share: the ``--set`` option, checking output paths, and loading a pipeline
for a data set."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from .._errors import SignifyError
from .._graph import Graph, build_graph
from .._host import PluginHost
from .._override_notes import one_node_overrides
from .._pipeline import plan_pipeline

if TYPE_CHECKING:
    #: ``sub.add_parser(...)``'s owner, as argparse names it (generic for type checkers only).
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def add_set(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NODE.PARAM=VALUE",
        help="override a node parameter (repeatable); validated like the file",
    )
    return parser


def check_output(path: Path | None, option: str) -> None:
    """Refuse an output file that cannot be written before the work, not after it."""
    if path is None:
        return
    if path.is_dir():
        raise SignifyError(f"{option} {path}: is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise SignifyError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SignifyError(f"{option} {path}: the folder {folder} is not writable")


def load(
    pipeline: str, host: PluginHost, overrides: Sequence[str], data: Path | None = None
) -> Graph:
    """The pipeline's graph, entered where ``data`` (a landmark file) can feed it."""
    plan = plan_pipeline(pipeline, host.registry, overrides=overrides)
    for one_node in one_node_overrides(plan, overrides):
        print(one_node, file=sys.stderr)
    if data is not None:
        from ..tools.entry import plan_for_data

        plan, note = plan_for_data(plan, data, host.registry)
        if note:
            print(note, file=sys.stderr)
    return build_graph(plan, host)
