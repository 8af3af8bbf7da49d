"""What the tools measure, defined once: a frame's prediction, and percentiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .._graph import Graph, ItemResult
from .._kinds import Kind, Probabilities


def prediction(graph: Graph, result: ItemResult) -> Probabilities | None:
    """A frame's unthrottled prediction: the probabilities of the graph's last node that
    outputs them (after ``smooth``, where there is one). ``None`` when that node had none (no
    hand), the frame failed, or the graph predicts nothing. ``run``, ``eval`` and the
    sequence scores all read this."""
    nodes = graph.find(Kind.PROBABILITIES)
    if result.error is not None or not nodes:
        return None
    value = result.values[graph.node_ids.index(nodes[-1])]
    return value if isinstance(value, Probabilities) else None


def percentiles(
    samples: Sequence[float] | npt.NDArray[np.float64],
    quantiles: Sequence[int] = (50, 90, 99),
    digits: int | None = None,
) -> dict[str, float]:
    """``{"p50": …, "p90": …}`` of ``samples``, rounded to ``digits`` when given."""
    values = np.percentile(np.asarray(samples, np.float64), list(quantiles))
    return {
        f"p{q}": float(v) if digits is None else round(float(v), digits)
        for q, v in zip(quantiles, values, strict=True)
    }
