#!/usr/bin/env python3
"""Make the committed spelling sequences from the committed public-domain photos.

    python tests/data/sequences/make_sequences.py [--out DIR]

``words.mp4`` (15 fps, 640×480, mp4v) fingerspells ``WORDS`` the way a camera sees a signer:
each letter is one real photo from ``tests/data/photos`` held for 1.25–1.5 s, drifting and
breathing a little every frame (a shift of a few pixels and a scale within ±2 %, so no two
frames are the same); two letters in a row cross-fade over two frames (the hand changing
shape); a double letter is released for 200 ms (frames with no hand) and held again; words are
separated by 1.4 s without a hand, which the ``spell`` stage's ``pause_ms`` (1000) turns into a
space. ``words.labels.json`` gives the text and every letter's span in ms.

``words-landmarks.npz`` is the same signing as a client that runs MediaPipe itself would send
it: the landmarks the served ``hands`` stage tracks in ``words.mp4`` (raw image coordinates,
``aspect`` 4:3), frame by frame, except where a real hand would move instead. Between two
letters the hand changes shape: the cross-fade frames are replaced by landmarks interpolated
from the last frame of one letter to the first clean frame of the next. A double letter is the
other cue of the ``spell`` stage: instead of a release, the hand slides sideways by 0.6 hand
sizes over the release's frames and holds the letter there again. Frames without a hand (the
pauses between words) are rows of NaN. Its labels are the video's.

The photo of each letter was chosen among the committed ones (``PHOTOS``) as one the shipped
model reads right when held (``signify-graph eval pipelines/default.yaml --data
tests/data/photos`` lists them): the sequence tests the spelling, not the classifier. J and Z are
still photos, as the shipped model knows them.

Everything is seeded, so running this again gives the same frames (the encoded bytes may differ
with another OpenCV build).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
PHOTO_DIR = HERE.parent / "photos"
WORDS = "HELLO MY JAZZ BAND ROCKS"
#: Index of the photo used for each letter, in ``tests/data/photos/<LETTER>/`` sorted by name.
PHOTOS = {"A": 2, "B": 0, "C": 0, "D": 0, "E": 2, "H": 0, "J": 0, "K": 1, "L": 0}
PHOTOS |= {"M": 2, "N": 2, "O": 0, "R": 0, "S": 2, "Y": 0, "Z": 0}
FPS = 15
WIDTH, HEIGHT, SIDE = 640, 480, 320  # the canvas, and the photo on it (a hand at arm's length)
HOLD_S = (1.25, 1.5)
RELEASE_S = 0.2  # between the two letters of a double letter
PAUSE_S = 1.4  # between words
LEAD_S, TAIL_S = 0.5, 0.6  # no hand before the first and after the last letter
CROSSFADE = 2  # frames between two different letters


def photo(letter: str) -> np.ndarray:
    files = sorted((PHOTO_DIR / letter).glob("*.jpg"))
    image = cv2.imread(str(files[PHOTOS[letter]]))
    return cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def placed(image: np.ndarray | None, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0):
    """``image`` on a black canvas, centred, shifted by (dx, dy) px and scaled."""
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    if image is None:
        return canvas
    matrix = np.float32([[scale, 0, 0], [0, scale, 0]])
    matrix[:, 2] = [
        (WIDTH - SIDE * scale) / 2 + dx,
        (HEIGHT - SIDE * scale) / 2 + dy,
    ]
    return cv2.warpAffine(image, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)


class Sequence:
    """Frames being made, with the letter spans they hold."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.frames: list[np.ndarray] = []
        self.spans: list[dict[str, Any]] = []
        self.phase = 0.0

    def ms(self, index: int) -> int:
        return round(index * 1000 / FPS)

    def blank(self, seconds: float) -> None:
        self.frames += [placed(None)] * round(seconds * FPS)

    def hold(self, letter: str, fade_from: np.ndarray | None) -> np.ndarray:
        image = photo(letter)
        count = round(float(self.rng.uniform(*HOLD_S)) * FPS)
        start = len(self.frames)
        for k in range(count):
            self.phase += 0.35
            dx = 4 * np.sin(self.phase) + self.rng.normal(0, 0.8)
            dy = 3 * np.sin(0.7 * self.phase + 1) + self.rng.normal(0, 0.8)
            scale = 1 + 0.015 * np.sin(0.5 * self.phase) + self.rng.normal(0, 0.003)
            frame = placed(image, dx, dy, scale)
            if fade_from is not None and k < CROSSFADE:
                alpha = (k + 1) / (CROSSFADE + 1)
                frame = cv2.addWeighted(frame, alpha, fade_from, 1 - alpha, 0)
            self.frames.append(frame)
        self.spans.append(
            {"letter": letter, "start_ms": self.ms(start), "end_ms": self.ms(len(self.frames))}
        )
        return self.frames[-1]


def make(text: str, seed: int) -> Sequence:
    sequence = Sequence(seed)
    sequence.blank(LEAD_S)
    for w, word in enumerate(text.split()):
        if w:
            sequence.blank(PAUSE_S)
        last: np.ndarray | None = None
        for i, letter in enumerate(word):
            if i and letter == word[i - 1]:
                sequence.blank(RELEASE_S)
                last = None
            last = sequence.hold(letter, last)
    sequence.blank(TAIL_S)
    return sequence


def tracked(video: Path) -> tuple[np.ndarray, np.ndarray]:
    """The landmarks the default pipeline's ``hands`` node tracks in each frame (NaN: none)."""
    from signify_graph import create_host, load_graph

    host = create_host()
    graph = load_graph(str(HERE.parents[2] / "pipelines" / "default.yaml"), host)
    slot = graph.node_ids.index("hands")
    capture = cv2.VideoCapture(str(video))
    points, aspects = [], []
    with graph.open_session("recipe") as session:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
            hand = session.process(jpeg, arrival_ms=round(len(points) * 1000 / FPS)).values[slot]
            points.append(np.full((21, 3), np.nan) if hand is None else hand.landmarks)
            aspects.append(WIDTH / HEIGHT)
    graph.close()
    return np.asarray(points, np.float32), np.asarray(aspects, np.float32)


def hand_moves(points: np.ndarray, spans: list[dict[str, Any]]) -> np.ndarray:
    """Tracked landmarks, with transitions interpolated and double letters slid sideways."""
    out = points.copy()
    frame = [(span["start_ms"] * FPS + 500) // 1000 for span in spans]
    end = [(span["end_ms"] * FPS + 500) // 1000 for span in spans]
    for k in range(1, len(spans)):
        first = frame[k] + (CROSSFADE if end[k - 1] == frame[k] else 0)
        before, after = end[k - 1] - 1, first
        if spans[k]["letter"] == spans[k - 1]["letter"]:
            size = np.linalg.norm(out[before, 9, :2] - out[before, 0, :2])
            out[frame[k] : end[k], :, 0] += 0.6 * size * HEIGHT / WIDTH
            after = frame[k]
        elif end[k - 1] != frame[k]:
            continue  # a pause between words: the hand is gone
        steps = after - before
        for i in range(1, steps):
            out[before + i] = out[before] + (out[after] - out[before]) * i / steps
    return out


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    args = parser.parse_args()
    sequence = make(WORDS, seed=17)
    write_video(args.out / "words.mp4", sequence.frames)
    labels = {"text": WORDS, "fps": FPS, "spans": sequence.spans}
    (args.out / "words.labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    seconds = len(sequence.frames) / FPS
    print(f"words.mp4: {len(sequence.frames)} frames, {seconds:.1f} s, {WORDS!r}")
    points, aspects = tracked(args.out / "words.mp4")
    moving = hand_moves(points, sequence.spans)
    np.savez_compressed(args.out / "words-landmarks.npz", X=moving, aspect=aspects)
    (args.out / "words-landmarks.labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    print(
        f"words-landmarks.npz: {len(moving)} frames, {int(np.isnan(moving[:, 0, 0]).sum())} "
        "without a hand"
    )


if __name__ == "__main__":
    main()
