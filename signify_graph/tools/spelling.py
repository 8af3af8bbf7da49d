"""Scoring spelled text: how close a pipeline's ``text`` comes to the words that were signed.

Each sequence (a video, or a landmark file) runs as one live session, as a signer's camera
would, and the ``spell`` node's final ``text`` is compared with the truth, both upper-cased
with runs of spaces made one and the ends trimmed (a trailing space, committed because the
hand left the view at the end, is no error). Reported, per sequence and over all of them:

* **character error rate** — D / N, with D the Levenshtein distance (insertions, deletions and
  substitutions of one character, spaces included) and N the truth's length;
* **normalised Levenshtein** — (N − D) / N, clipped at 0, over the totals N and D of all the
  sequences: the metric of Kaggle's ASL Fingerspelling competition (1 is perfect);
* **insertions, deletions, substitutions** — one optimal alignment's counts (:mod:`.edits`);
* **commit latency** — for each true letter (a span of the labels), from the span's start to the
  commit of the spelled letter the alignment pairs it with; letters never committed are counted
  as missed, not timed.

Labels (``X.labels.json`` beside ``X.mp4`` or ``X.npz``) extend the letter-span format::

    {"text": "HELLO WORLD", "fps": 15, "spans": [{"letter": "H", "start_ms": 0, "end_ms": 900}]}

``spans`` are optional (no commit latency without them) and, when given, must spell ``text``
without its spaces; ``fps`` is the landmark file's frame rate (videos carry their own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import SignifyError
from .._graph import Graph
from .._kinds import Kind
from .edits import align
from .inputs import VIDEO_SUFFIXES
from .measures import percentiles
from .sequences import Played, frame_latency, labels_path, play, read_labels, score_spans

SEQUENCE_SUFFIXES = VIDEO_SUFFIXES | {".npz"}


def normalise(text: str) -> str:
    """Upper case, one space between words, none at the ends."""
    return " ".join(text.upper().split())


@dataclass(frozen=True, slots=True)
class Labelled:
    """A sequence and what was spelled in it."""

    data: Path
    truth: str
    spans: list[dict[str, Any]]
    fps: float


def load_labelled(data: Path, labels: Path | None = None) -> Labelled:
    path = labels or labels_path(data)
    if not path.is_file():
        raise SignifyError(f"{data}: a sequence needs its text in {path.name} (or --labels)")
    raw = read_labels(path)
    spans = raw.get("spans") or []
    ok = isinstance(spans, list) and all(
        isinstance(s, dict)
        and isinstance(s.get("letter"), str)
        and isinstance(s.get("start_ms"), int)
        and isinstance(s.get("end_ms"), int)
        for s in spans
    )
    if not ok:
        raise SignifyError(f"{path}: 'spans' must be [{{letter, start_ms, end_ms}}, ...]")
    letters = "".join(s["letter"] for s in spans).upper()
    text = raw.get("text", letters)
    if not isinstance(text, str) or not normalise(text):
        raise SignifyError(f"{path}: 'text' must be the words spelled, e.g. \"HELLO WORLD\"")
    truth = normalise(text)
    if spans and letters != truth.replace(" ", ""):
        raise SignifyError(f"{path}: the spans spell {letters!r}, but 'text' is {truth!r}")
    fps = raw.get("fps", 15)
    if not isinstance(fps, int | float) or not 1 <= fps <= 1000:
        raise SignifyError(f"{path}: 'fps' must be a frame rate between 1 and 1000")
    return Labelled(data, truth, spans, float(fps))


def spelling_data(data: Path, labels: Path | None) -> list[Path] | None:
    """The sequences ``data`` names for a spelling eval — a folder of labelled sequences, or one
    whose labels give a ``text`` — or ``None`` for other data (photos, an unlabelled landmark
    file, a video with letter spans only)."""
    if data.is_dir():
        found = sorted(
            p
            for p in data.iterdir()
            if p.suffix.lower() in SEQUENCE_SUFFIXES and labels_path(p).is_file()
        )
        if found and labels is not None:
            raise SignifyError("--labels is for one sequence; a folder's have theirs beside them")
        return found or None
    if data.suffix.lower() in SEQUENCE_SUFFIXES:
        path = labels or labels_path(data)
        if path.is_file() and "text" in read_labels(path):
            return [data]
    return None


def _score(sequence: Labelled, frames: list[Played]) -> dict[str, Any]:
    spelled = [f.spelling for f in frames if f.spelling is not None]
    text = normalise(spelled[-1].text) if spelled else ""
    edits = align(sequence.truth, text)
    commits = [(s, f.timestamp_ms) for f in frames if f.spelling for s in f.spelling.committed]
    letters = [(s, t) for s, t in commits if s != " "]
    truth_letters = [str(span["letter"]).upper() for span in sequence.spans]
    timed = align(truth_letters, [s for s, _ in letters])
    latencies = {
        t: letters[h][1] - int(sequence.spans[t]["start_ms"])
        for t, h in timed.matches(truth_letters, [s for s, _ in letters])
        if t is not None and h is not None
    }
    n = len(sequence.truth)
    report: dict[str, Any] = {
        "data": str(sequence.data),
        "frames": len(frames),
        "truth": sequence.truth,
        "text": text,
        "chars": n,
        "distance": edits.distance,
        "insertions": edits.insertions,
        "deletions": edits.deletions,
        "substitutions": edits.substitutions,
        "cer": round(edits.distance / n, 4),
        "normalized_levenshtein": round(max(0.0, (n - edits.distance) / n), 4),
        "commits": [{"char": s, "ms": t} for s, t in commits],
        "commit_latency_ms": [latencies.get(i) for i in range(len(sequence.spans))],
    }
    if sequence.spans:
        letter_frames = [(f.timestamp_ms, f.letter) for f in frames]
        spans = score_spans(letter_frames, sequence.spans)
        report["letters"] = {k: spans[k] for k in ("accuracy", "flicker_per_s")}
    return report


def evaluate_spelling(
    graph_for: Callable[[Path], Graph], sequences: list[Path], labels: Path | None = None
) -> dict[str, Any]:
    """Every sequence through the graph ``graph_for`` gives for it (a landmark file may need
    another entry than a video); the report as JSON-ready data."""
    per_sequence: list[dict[str, Any]] = []
    played: list[Played] = []
    name = ""
    for data in sequences:
        sequence = load_labelled(data, labels)
        graph = graph_for(data)
        if not graph.spells:
            raise SignifyError(f"pipeline '{graph.name}' has no node that outputs spelling")
        graph.last_slot(Kind.PROBABILITIES)
        name = graph.name
        frames = play(graph, data, sequence.fps)
        played += frames
        per_sequence.append(_score(sequence, frames))
    n = sum(s["chars"] for s in per_sequence)
    d = sum(s["distance"] for s in per_sequence)
    timed = [float(t) for s in per_sequence for t in s["commit_latency_ms"] if t is not None]
    spans = sum(len(s["commit_latency_ms"]) for s in per_sequence)
    latency = None
    if timed:
        latency = percentiles(timed, (50, 90), 1) | {
            "timed": len(timed),
            "missed": spans - len(timed),
        }
    return {
        "pipeline": name,
        "data": str(sequences[0].parent if len(sequences) > 1 else sequences[0]),
        "kind": "spelling",
        "sequences": len(per_sequence),
        "chars": n,
        "distance": d,
        **{
            k: sum(s[k] for s in per_sequence) for k in ("insertions", "deletions", "substitutions")
        },
        "cer": round(d / n, 4),
        "normalized_levenshtein": round(max(0.0, (n - d) / n), 4),
        "commit_latency_ms": latency,
        "per_sequence": per_sequence,
        "latency_ms": frame_latency(played),
    }


def _latency_line(latency: dict[str, Any] | None) -> str:
    if latency is None:
        return "commit latency: – (no letter spans, or no letter committed)"
    timed, missed = latency["timed"], latency["missed"]
    return (
        f"commit latency (letter start → commit) p50 {latency['p50']:.0f} ms   "
        f"p90 {latency['p90']:.0f} ms   ({timed} letters timed, {missed} never committed)"
    )


def format_spelling(report: dict[str, Any]) -> str:
    """The report for a terminal: the totals, then each sequence's text against its truth."""
    lines = [
        f"pipeline '{report['pipeline']}' on {report['data']} ({report['sequences']} "
        "sequence(s), one session each)",
        f"CER {report['cer']:.1%}   normalised Levenshtein {report['normalized_levenshtein']:.3f}"
        f"   insertions {report['insertions']}   deletions {report['deletions']}   "
        f"substitutions {report['substitutions']}   ({report['chars']} characters)",
        _latency_line(report["commit_latency_ms"]),
        "",
        "sequence                        CER  norm. Lev.  ins  del  sub",
    ]
    for s in report["per_sequence"]:
        lines.append(
            f"{Path(s['data']).name:<28} {s['cer']:>6.1%} {s['normalized_levenshtein']:>11.3f} "
            f"{s['insertions']:>4} {s['deletions']:>4} {s['substitutions']:>4}"
        )
        lines.append(f"    truth   {s['truth']!r}")
        lines.append(f"    spelled {s['text']!r}")
    stats = report["latency_ms"]["total"]
    lines += ["", f"latency per frame (ms)   p50 {stats['p50']:.3f}   p90 {stats['p90']:.3f}"]
    return "\n".join(lines)


def format_spelling_comparison(first: dict[str, Any], second: dict[str, Any]) -> str:
    """Two spelling reports side by side: the totals, then each sequence's text."""
    a, b = first, second
    rows: list[tuple[str, Any, Any]] = [("pipeline", a["pipeline"], b["pipeline"])]
    for key in ("cer", "normalized_levenshtein", "insertions", "deletions", "substitutions"):
        rows.append((key, a[key], b[key]))
    for stat in ("p50", "p90"):
        values = [(r["commit_latency_ms"] or {}).get(stat, "–") for r in (a, b)]
        rows.append((f"commit latency {stat} (ms)", *values))
        values = [r["latency_ms"]["total"][stat] for r in (a, b)]
        rows.append((f"latency total {stat} (ms)", *values))
    lines = [f"{name:<28} {x!s:>14} {y!s:>14}" for name, x, y in rows]
    for mine, theirs in zip(a["per_sequence"], b["per_sequence"], strict=True):
        lines += ["", f"{Path(mine['data']).name}: truth {mine['truth']!r}"]
        lines += [
            f"  {a['pipeline']:<14} {mine['text']!r}",
            f"  {b['pipeline']:<14} {theirs['text']!r}",
        ]
    return "\n".join(lines)
