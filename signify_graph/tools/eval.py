"""``signify-graph eval``: how often a pipeline names the right letter on labelled data.

Accuracy is measured the way users meet it: the whole graph, from the pipeline's own ingress
(photos enter at ``decode``, landmark files at ``landmarks``, or in place of the node that finds
the hand in a pipeline that starts from images: :mod:`.entry`), each sample in a fresh session
— so no tracker, window or smoothing carries over from the previous letter — and fed
``--frames`` times, as a live signer holds a pose for a few frames while tracking locks on
and the windows fill.

The prediction is the top letter of the last ``probabilities`` output the graph produced
for the sample (after ``smooth``, where there is one), not the emitted reply: replies are
throttled, and eval measures the recogniser, not the throttle. A sample whose frames never
produced probabilities counts as "no hand"; accuracy is over detected hands, and the
detection rate says how many those were. Letters the model does not know count as errors
and are listed, so a model missing a letter cannot look better than it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError
from .._graph import Graph
from .._kinds import Kind, Probabilities
from . import inputs as _inputs
from .measures import percentiles, prediction

#: Frames of one sample arrive at a webcam's 15 fps, so throttles and trackers see real time.
FRAME_INTERVAL_MS = 1000 / 15


@dataclass(slots=True)
class Outcome:
    label: str
    predicted: str | None
    #: The code of the last stage error among the sample's frames (a bad photo…).
    error: str | None


def _predict(
    graph: Graph, index: int, payload: Any, frames: int, timings: list[list[int]]
) -> tuple[Probabilities | None, str | None]:
    """Run one sample in its own session: its last probabilities and last error code."""
    last: Probabilities | None = None
    error: str | None = None
    with graph.open_session(f"eval-{index}") as session:
        for frame in range(frames):
            result = session.process(payload, arrival_ms=round(frame * FRAME_INTERVAL_MS))
            timings.append(result.timings_ns)
            if result.error is not None:
                error = result.error.code
            last = prediction(graph, result) or last
    return last, error


def _mirrored(payload: Any) -> Any:
    """The same sample seen in a mirror: a flipped photo (PNG, lossless) or x → 1 − x."""
    if isinstance(payload, dict):
        points = np.asarray(payload["landmarks"], dtype=np.float64)
        points[:, 0] = 1.0 - points[:, 0]
        return {**payload, "landmarks": points.tolist()}
    import cv2

    image: Any = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    ok, png = cv2.imencode(".png", cv2.flip(image, 1))
    return png.tobytes() if ok else payload


@dataclass(slots=True)
class Scored:
    """One sample's result: what the report is built from, wherever the sample ran."""

    outcome: Outcome
    #: Stage times (ns) of each of its frames.
    timings: list[list[int]]
    #: The model's labels, as its probabilities name them (empty when there were none).
    labels: tuple[str, ...]


def score(graph: Graph, index: int, item: _inputs.Item, frames: int, mirror: bool) -> Scored:
    """One labelled sample through ``graph`` in a session of its own (``eval-INDEX``)."""
    payload = _mirrored(item.payload) if mirror else item.payload
    timings: list[list[int]] = []
    probabilities, error = _predict(graph, index, payload, frames, timings)
    predicted: str | None = None
    labels: tuple[str, ...] = ()
    if probabilities is not None:
        predicted, labels = probabilities.top()[0], probabilities.labels
    return Scored(Outcome(str(item.label).upper(), predicted, error), timings, labels)


#: Scores the samples it is given, in their order: :func:`evaluate` runs them here, one after
#: the other, unless handed another (``--executor dask``: :mod:`.executor`).
Runner = Callable[[Iterator[_inputs.Item]], Iterator[Scored]]


def _labelled(items: Iterator[_inputs.Item]) -> Iterator[_inputs.Item]:
    for item in items:
        if item.label is None:
            raise SignifyError(f"{item.source}: no letter; put photos in <LETTER>/ folders")
        yield item


def evaluate(
    graph: Graph, data: Path, frames: int, *, mirror: bool = False, runner: Runner | None = None
) -> dict[str, Any]:
    """Every sample of ``data`` through ``graph``; the report as JSON-ready data."""
    graph.last_slot(Kind.PROBABILITIES)  # refuse a pipeline without predictions up front
    if frames < 1:
        raise SignifyError("--frames must be at least 1")
    if not (data.is_dir() or data.suffix == ".npz"):  # videos go to .sequences
        raise SignifyError(f"{data}: expected a folder of <LETTER>/ photos or a landmark .npz")
    items = _labelled(_inputs.read(data, graph.input_kind))
    if runner is None:
        scored: Iterator[Scored] = (
            score(graph, index, item, frames, mirror) for index, item in enumerate(items)
        )
    else:
        scored = runner(items)
    outcomes: list[Outcome] = []
    timings: list[list[int]] = []
    labels: tuple[str, ...] = ()  # the model's, as its probabilities name them
    for sample in scored:
        outcomes.append(sample.outcome)
        timings += sample.timings
        labels = sample.labels or labels
    if not outcomes:
        raise SignifyError(f"{data}: no samples found")
    return _report(graph, data, frames, outcomes, timings, labels)


def _report(
    graph: Graph,
    data: Path,
    frames: int,
    outcomes: list[Outcome],
    timings: list[list[int]],
    labels: tuple[str, ...],
) -> dict[str, Any]:
    letters = sorted({o.label for o in outcomes})
    detected = [o for o in outcomes if o.predicted is not None]
    correct = sum(o.predicted == o.label for o in detected)
    per_letter = {}
    for letter in letters:
        mine = [o for o in outcomes if o.label == letter]
        found = [o for o in mine if o.predicted is not None]
        hits = sum(o.predicted == letter for o in found)
        per_letter[letter] = {
            "n": len(mine),
            "detected": len(found),
            "correct": hits,
            "accuracy": round(hits / len(found), 4) if found else None,
        }
    columns = list(labels) + sorted({str(o.predicted) for o in detected} - set(labels))
    matrix = [[0] * len(columns) for _ in letters]
    for o in detected:
        matrix[letters.index(o.label)][columns.index(str(o.predicted))] += 1
    times = np.array([t for t in timings if len(t) == len(graph.node_ids)], np.float64) / 1e6
    latency = {}
    if len(times):
        named = dict(zip(graph.node_ids, times.T, strict=True)) | {"total": times.sum(axis=1)}
        latency = {node: percentiles(v, (50, 90), 3) for node, v in named.items()}
    return {
        "pipeline": graph.name,
        "data": str(data),
        "frames": frames,
        "n": len(outcomes),
        "detected": len(detected),
        "correct": correct,
        "accuracy": round(correct / len(detected), 4) if detected else 0.0,
        "end_to_end": round(correct / len(outcomes), 4),
        "detection_rate": round(len(detected) / len(outcomes), 4),
        "unknown_letters": [letter for letter in letters if labels and letter not in labels],
        "errors": dict(Counter(o.error for o in outcomes if o.error is not None)),
        "per_letter": per_letter,
        "confusion": {"rows": letters, "columns": columns, "counts": matrix},
        "latency_ms": latency,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report for a terminal: summary, per letter, confusion, latency."""
    lines = [
        f"pipeline '{report['pipeline']}' on {report['data']}, {report['frames']} frame(s) each",
        f"accuracy {report['accuracy']:.1%} over detected hands ({report['correct']}/"
        f"{report['detected']})   end to end {report['correct'] / report['n']:.1%} "
        f"({report['correct']}/{report['n']} samples)   detection rate "
        f"{report['detection_rate']:.1%}",
    ]
    if report["unknown_letters"]:
        unknown = " ".join(report["unknown_letters"])
        lines.append(f"letters the model does not know (counted as errors): {unknown}")
    if report["errors"]:
        lines.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in report["errors"].items()))
    lines += ["", "letter  n  detected  correct  accuracy"]
    for letter, row in report["per_letter"].items():
        accuracy = "–" if row["accuracy"] is None else f"{row['accuracy']:.0%}"
        lines.append(
            f"{letter:>6} {row['n']:>2} {row['detected']:>9} {row['correct']:>8} {accuracy:>9}"
        )
    confusion = report["confusion"]
    width = max((len(c) for c in confusion["columns"]), default=1) + 1
    lines += ["", "confusion (rows: true letter, columns: predicted; detected hands only)"]
    lines.append("   " + "".join(f"{c:>{width}}" for c in confusion["columns"]))
    for row, counts in zip(confusion["rows"], confusion["counts"], strict=True):
        cells = "".join(f"{count or '·':>{width}}" for count in counts)
        lines.append(f"{row:>3}{cells}")
    lines += ["", "latency per frame (ms)      p50      p90"]
    for node, stats in report["latency_ms"].items():
        lines.append(f"  {node:<22} {stats['p50']:>8.3f} {stats['p90']:>8.3f}")
    return "\n".join(lines)


#: The summary rows of a comparison: report key, label, and how the value is written.
_SUMMARY_ROWS = (
    ("accuracy", "accuracy (detected hands)", "{:.1%}"),
    ("end_to_end", "end to end (all samples)", "{:.1%}"),
    ("detection_rate", "detection rate", "{:.1%}"),
    ("flicker_per_s", "flicker (changes/s)", "{:.2f}"),
    ("time_to_correct_ms", "time to correct (ms)", "{:.0f}"),
)


def _cell(value: Any, style: str) -> str:
    return "–" if value is None else style.format(value)


def format_comparison(first: dict[str, Any], second: dict[str, Any]) -> str:
    """Two reports side by side, in the single report's units (percent, ms): the summary
    figures, then letter by letter."""
    rows = [("pipeline", first["pipeline"], second["pipeline"])]
    for key, label, style in _SUMMARY_ROWS:
        if key == "accuracy" and "flicker_per_s" in first:
            label = "frame accuracy"  # a sequence: every frame scored against its span
        if key in first:
            rows.append((label, _cell(first[key], style), _cell(second.get(key), style)))
    for stat in ("p50", "p90"):
        mine, theirs = (f"{r['latency_ms']['total'][stat]:.3f}" for r in (first, second))
        rows.append((f"latency total {stat} (ms)", mine, theirs))
    lines = [f"{name:<28} {a:>14} {b:>14}" for name, a, b in rows]
    if "per_letter" in first:
        lines += ["", f"{'letter (accuracy)':<28} {first['pipeline']:>14} {second['pipeline']:>14}"]
        for letter, row in first["per_letter"].items():
            other = second["per_letter"].get(letter, {}).get("accuracy")
            lines.append(
                f"{letter:<28} {_cell(row['accuracy'], '{:.0%}'):>14} {_cell(other, '{:.0%}'):>14}"
            )
    return "\n".join(lines)
