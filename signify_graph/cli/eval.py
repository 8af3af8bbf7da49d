"""``signify-graph eval``: accuracy of a pipeline on labelled data (see :mod:`..tools.eval`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._graph import Graph
from .._host import PluginHost
from .common import Subparsers, add_set, check_output, load

if TYPE_CHECKING:
    from ..tools.executor import DaskPool, ExecutorSpec


def add_parser(sub: Subparsers) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="accuracy of a pipeline on labelled photos or landmarks")
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument(
        "--data",
        required=True,
        type=Path,
        metavar="PATH",
        help="a folder of <LETTER>/*.jpg|jpeg|png photos, a landmark .npz with X and y, a "
        "video with letter spans, or spelling sequences: a video or .npz with X.labels.json "
        "giving its text, or a folder of them",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=3,
        metavar="N",
        help="feed each sample N times, as a held pose (default 3)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--confusion-png", type=Path, metavar="FILE", help="draw the confusion matrix")
    p.add_argument("--latency-png", type=Path, metavar="FILE", help="draw a latency histogram")
    p.add_argument("--compare", metavar="OTHER", help="a second pipeline, side by side")
    p.add_argument(
        "--mirror",
        action="store_true",
        help="flip every photo (or landmark set) horizontally first",
    )
    p.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="letter spans or text for a video or sequence (default: X.labels.json beside it)",
    )
    p.add_argument(
        "--executor",
        type=_executor,
        default="serial",
        metavar="serial|dask[=ADDRESS]",
        help="where samples run: here (default), a local Dask cluster of one worker per core "
        "(dask), or the workers of a Dask scheduler (dask=tcp://HOST:8786)",
    )
    return add_set(p)


def _executor(text: str) -> ExecutorSpec:
    from ..tools.executor import parse_executor

    try:
        return parse_executor(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _evaluate_one(
    args: argparse.Namespace, host: PluginHost, pipeline: str, pool: DaskPool | None = None
) -> dict[str, Any]:
    from ..tools.eval import evaluate
    from ..tools.inputs import VIDEO_SUFFIXES, count
    from ..tools.sequences import evaluate_sequence

    graph = load(pipeline, host, args.overrides, args.data)
    try:
        if args.data.suffix.lower() in VIDEO_SUFFIXES:
            return evaluate_sequence(graph, args.data, args.labels)
        runner = None
        if pool is not None:
            runner = pool.runner(graph, args.frames, args.mirror, count(args.data))
        return evaluate(graph, args.data, args.frames, mirror=args.mirror, runner=runner)
    finally:
        graph.close()


def _evaluate_spelling(
    args: argparse.Namespace, host: PluginHost, pipeline: str, sequences: list[Path]
) -> dict[str, Any]:
    """Spelling sequences: one graph per way in (a landmark file enters where a video cannot)."""
    from ..tools.spelling import evaluate_spelling

    graphs: dict[bool, Graph] = {}

    def graph_for(data: Path) -> Graph:
        landmarks = data.suffix == ".npz"
        if landmarks not in graphs:
            graphs[landmarks] = load(pipeline, host, args.overrides, data)
        return graphs[landmarks]

    try:
        return evaluate_spelling(graph_for, sequences, args.labels)
    finally:
        for graph in graphs.values():
            graph.close()


def _run_spelling(args: argparse.Namespace, host: PluginHost, sequences: list[Path]) -> int:
    from ..tools.spelling import format_spelling, format_spelling_comparison

    reports = [_evaluate_spelling(args, host, args.pipeline, sequences)]
    if args.compare:
        reports.append(_evaluate_spelling(args, host, args.compare, sequences))
    return _print_reports(args, reports, format_spelling, format_spelling_comparison)


def _print_reports(
    args: argparse.Namespace,
    reports: list[dict[str, Any]],
    single: Callable[[dict[str, Any]], str],
    pair: Callable[[dict[str, Any], dict[str, Any]], str],
) -> int:
    """The latency picture if asked for, then the reports: JSON, side by side, or one."""
    if args.latency_png:
        from ..tools.figures import write_latency_png

        write_latency_png(reports, args.latency_png)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"pipelines": reports}, indent=2))
    elif len(reports) == 2:
        print(pair(*reports))
    else:
        print(single(reports[0]))
    return 0


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..tools.eval import format_comparison, format_report
    from ..tools.executor import ExecutorSpec, open_executor
    from ..tools.figures import write_confusion_png
    from ..tools.inputs import VIDEO_SUFFIXES, check_input
    from ..tools.sequences import format_sequence
    from ..tools.spelling import spelling_data

    check_output(args.confusion_png, "--confusion-png")
    check_output(args.latency_png, "--latency-png")
    if args.data.exists() and (sequences := spelling_data(args.data, args.labels)):
        return _run_spelling(args, host, sequences)
    check_input(args.data)
    executor: ExecutorSpec = args.executor
    if executor.kind != "serial" and args.data.suffix.lower() in VIDEO_SUFFIXES:
        print(f"note: a video is one session; --executor {executor} runs it here", file=sys.stderr)
        executor = ExecutorSpec()
    with open_executor(executor) as pool:
        reports = [_evaluate_one(args, host, args.pipeline, pool)]
        if args.compare:
            reports.append(_evaluate_one(args, host, args.compare, pool))
    if args.confusion_png and "confusion" in reports[0]:
        write_confusion_png(reports, args.confusion_png)
    single = format_sequence if "spans" in reports[0] else format_report
    return _print_reports(args, reports, single, format_comparison)
