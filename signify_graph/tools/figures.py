"""``eval``'s pictures: the confusion matrix and the per-stage latency, one or two pipelines.

matplotlib is imported only when a picture is asked for (it is a dev extra, and slow to
import), and its object API is used, never pyplot, so nothing depends on a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise SignifyError("pictures need matplotlib: pip install matplotlib") from exc
    return Figure


def write_confusion_png(reports: list[dict[str, Any]], file: Path) -> None:
    """Each report's confusion matrix, side by side (two with ``--compare``), so the letters
    that one pipeline gets wrong and the other right stand out."""
    figure_class = _figure_class()
    matrices = []
    for report in reports:
        confusion = report["confusion"]
        counts = np.array(confusion["counts"], dtype=np.float64).reshape(
            len(confusion["rows"]), len(confusion["columns"])
        )
        matrices.append((report, confusion, counts))
    rows = max(m[2].shape[0] for m in matrices)
    columns = sum(m[2].shape[1] for m in matrices)
    figure = figure_class(figsize=(1.5 + 0.35 * columns, 1.2 + 0.35 * rows))
    for index, (report, confusion, counts) in enumerate(matrices, start=1):
        axes = figure.add_subplot(1, len(matrices), index)
        axes.imshow(counts, cmap="Blues")
        axes.set_xticks(range(counts.shape[1]), confusion["columns"])
        axes.set_yticks(range(counts.shape[0]), confusion["rows"])
        axes.set_xlabel("predicted")
        axes.set_ylabel("true letter")
        axes.set_title(
            f"{report['pipeline']}: accuracy {report['accuracy']:.1%}, n {report['n']}",
            fontsize=9,
        )
        for (row, column), count in np.ndenumerate(counts):
            if count:
                axes.text(column, row, str(int(count)), ha="center", va="center", fontsize=7)
    figure.tight_layout()
    figure.savefig(file, dpi=120)


def latency_nodes(reports: list[dict[str, Any]]) -> list[str]:
    """Every node id of every report, the first report's order first: the bars' x axis, so
    a node the two pipelines share sits at one place even when their graphs differ."""
    nodes: list[str] = []
    for report in reports:
        nodes += [node for node in report["latency_ms"] if node not in nodes]
    return nodes


def write_latency_png(reports: list[dict[str, Any]], file: Path) -> None:
    """Per-stage p50 and p90 of each pipeline as grouped bars, aligned by node id (a node one
    pipeline lacks has no bar there), with labels turned so long ids stay readable."""
    figure_class = _figure_class()
    nodes = latency_nodes(reports)
    figure = figure_class(figsize=(max(6.0, 1.0 + 0.9 * len(nodes)), 4.5))
    axes = figure.add_subplot()
    bars = 2 * len(reports)
    width = 0.8 / bars
    for k, report in enumerate(reports):
        for j, stat in enumerate(("p50", "p90")):
            offset = (2 * k + j - (bars - 1) / 2) * width
            values = [report["latency_ms"].get(n, {}).get(stat, np.nan) for n in nodes]
            axes.bar(
                [i + offset for i in range(len(nodes))],
                values,
                width,
                label=f"{report['pipeline']} {stat}",
            )
    axes.set_xticks(range(len(nodes)), nodes, rotation=30, ha="right")
    axes.set_ylabel("ms per frame")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(file, dpi=120)
