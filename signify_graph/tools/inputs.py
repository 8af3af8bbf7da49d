"""Offline inputs for ``run`` (and friends): photo folders, videos and landmark files, turned
into the items a pipeline's input node expects, with the timestamps a live client would give.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError
from .._kinds import Kind

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".webm", ".mov", ".mkv"}


@dataclass(frozen=True, slots=True)
class Item:
    """One input for the graph: what to feed, where it came from, when it "arrived"."""

    payload: Any
    source: str
    timestamp_ms: int
    label: str | None = None


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def check_input(path: Path) -> None:
    """Refuse, before any model loads, an input that cannot yield a single item: a run over an
    empty folder that "succeeds" with no output reads as a pipeline that found nothing."""
    if not path.exists():
        raise SignifyError(f"{path}: no such file or folder")
    if path.is_dir() and not photos(path):
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise SignifyError(f"{path}: no photos ({suffixes}) in this folder or below it")


def _video(path: Path, fps_default: float) -> Iterator[Item]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SignifyError(f"{path}: OpenCV cannot open this video")
    fps = capture.get(cv2.CAP_PROP_FPS) or fps_default
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            # Re-encoded as a high-quality JPEG: the pipeline starts at `decode`, as live.
            ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            yield Item(jpeg.tobytes(), f"{path.name}#{index}", round(index * 1000 / fps))
            index += 1
    finally:
        capture.release()


def _landmarks(path: Path, interval_ms: float) -> Iterator[Item]:
    data = np.load(path, allow_pickle=False)
    if "X" not in data:
        raise SignifyError(f"{path}: a landmark file needs an array 'X' of shape (N, 21, 3)")
    points = data["X"]
    labels = data.get("y")
    aspects = data.get("aspect")
    for i in range(len(points)):
        # A row of NaN is a frame without a hand (a sequence's pause between words).
        seen = not np.isnan(points[i]).all()
        message: dict[str, Any] = {"landmarks": points[i].tolist() if seen else None}
        if aspects is not None:
            message["aspect"] = float(aspects[i])
        label = None if labels is None else str(labels[i])
        yield Item(message, f"{path.name}#{i}", round(i * interval_ms), label)


def count(path: Path) -> int | None:
    """How many items ``read`` will yield, when known cheaply (for the progress bar)."""
    if path.is_dir():
        return len(photos(path))
    if path.suffix == ".npz":
        return int(np.load(path)["X"].shape[0])
    if path.suffix.lower() in VIDEO_SUFFIXES:
        import cv2

        capture = cv2.VideoCapture(str(path))
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        return frames or None
    return None


def read(path: Path, kind: Kind, fps: float = 15.0) -> Iterator[Item]:
    """Yield the items of ``path`` for a pipeline whose input is ``kind``."""
    interval = 1000.0 / fps
    if path.suffix == ".npz":
        if kind is not Kind.LANDMARK_MESSAGE:
            raise SignifyError(f"{path}: landmark files need a pipeline that starts at 'landmarks'")
        yield from _landmarks(path, interval)
        return
    if kind is not Kind.ENCODED_IMAGE:
        raise SignifyError(f"{path}: images and videos need a pipeline that starts at 'decode'")
    if path.is_dir():
        for index, file in enumerate(photos(path)):
            label = file.parent.name if file.parent != path else None
            yield Item(
                file.read_bytes(), str(file.relative_to(path)), round(index * interval), label
            )
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        yield from _video(path, fps)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        yield Item(path.read_bytes(), path.name, 0)
    else:
        raise SignifyError(f"{path}: expected a folder of photos, a video or a landmark .npz")
