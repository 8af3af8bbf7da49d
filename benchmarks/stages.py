"""Per-frame cost of every stage of the shipped pipelines, against MediaPipe alone.

Why: MediaPipe's hand tracking is the one cost we cannot cut, so every other stage and the
engine itself are judged by how much they add to it. This script measures, in one run and on
one machine, for ``pipelines/default.yaml`` and ``pipelines/fast.yaml``:

* each stage's own time per frame (p50/p90/p99), from the engine's ``ItemResult.timings_ns``;
* the whole ``GraphSession.process`` call;
* the bare ``HandLandmarker.detect_for_video`` call on the same decoded RGB frame, with the
  same bundle, no engine — measured interleaved frame by frame with the pipeline, so both
  see the same machine load — and the ratio whole pipeline / MediaPipe alone;
* the classify stage alone, called back to back on the frame's features: inside the pipeline
  it runs right after MediaPipe has evicted its caches, which roughly doubles small stages;
* the spell stage alone, back to back on a spelling-like stream (letters held, released,
  moved, the hand away), so its commit, double-letter and space paths are all timed.

The frame is a committed photo centred on a black 640×480 canvas (a webcam frame), JPEG q80,
fed as a live client would: one session, a frame every 1/15 s of engine time.

Run: ``python benchmarks/stages.py [--frames 300] [--warmup 60]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from signify_graph import FrameContext, Graph, load_graph

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "tests/data/photos/L"
INTERVAL_MS = 1000 / 15


def webcam_frame(photo: Path) -> bytes:
    """The photo centred on a black 640×480 canvas, encoded as JPEG q80."""
    image = cv2.imread(str(photo))
    assert image is not None, photo
    scale = min(440 / image.shape[0], 600 / image.shape[1])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top, left = (480 - image.shape[0]) // 2, (640 - image.shape[1]) // 2
    canvas = cv2.copyMakeBorder(
        image,
        top,
        480 - image.shape[0] - top,
        left,
        640 - image.shape[1] - left,
        cv2.BORDER_CONSTANT,
        value=(0, 0, 0),
    )
    ok, jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok and canvas.shape == (480, 640, 3)
    return jpeg.tobytes()


def bare_landmarker(bundle: Path) -> Any:
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=bundle.read_bytes()),
        running_mode=vision.RunningMode.VIDEO,
        num_hands=1,
    )
    return vision.HandLandmarker.create_from_options(options)


def percentiles(values_ns: list[int] | np.ndarray[Any, Any]) -> list[float]:
    return [float(v) / 1e6 for v in np.percentile(np.asarray(values_ns), [50, 90, 99])]


def classify_alone(graph: Graph, features: Any, frames: int) -> list[int]:
    """The classify stage called back to back on one frame's features, in its own session."""
    session = graph.stages["classify"].open("bench-classify")
    times = []
    try:
        for index in range(100 + frames):
            start = time.perf_counter_ns()
            session.process(FrameContext("bench-classify", index, index), features)
            times.append(time.perf_counter_ns() - start)
    finally:
        session.close()
    return times[100:]


def spell_alone(graph: Graph, probs: Any, hand: Any, frames: int) -> list[int]:
    """The spell stage back to back on a stream that spells: each 0.8 s a letter held, a brief
    release, a sideways move or the hand away (frames 1/15 s apart in engine time)."""
    from signify_graph import Probabilities

    labels = probs.labels
    stream = []
    for index in range(100 + frames):
        phase = (index // 12) % 4  # 12 frames = 0.8 s at 15 fps
        letter = labels[(index // 48) % len(labels)]
        values = np.full(len(labels), 0.01, np.float32)
        values[labels.index(letter)] = 0.2 if phase == 1 and index % 12 < 3 else 0.9
        absent = phase == 3 and index % 12 >= 6
        moved = hand if phase != 2 else type(hand)(hand.landmarks + np.float32(0.05), hand.aspect)
        stream.append((None if absent else Probabilities(values, labels, 5), moved))
    session = graph.stages["spell"].open("bench-spell")
    times = []
    try:
        for index, (item, at) in enumerate(stream):
            frame = FrameContext("bench-spell", index, round(index * INTERVAL_MS))
            start = time.perf_counter_ns()
            session.process(frame, item, None if item is None else at)
            times.append(time.perf_counter_ns() - start)
    finally:
        session.close()
    return times[100:]


def measure(pipeline: str, frame: bytes, frames: int, warmup: int) -> dict[str, Any]:
    import mediapipe as mp

    graph = load_graph(str(REPO / "pipelines" / pipeline))
    hands = graph.stages["hands"]
    bgr = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    landmarker = bare_landmarker(hands.bundle_path)  # type: ignore[attr-defined]
    stage_ns: list[list[int]] = []
    call_ns: list[int] = []
    bare_ns: list[int] = []
    found = bare_found = 0
    session = graph.open_session("bench")
    try:
        for index in range(warmup + frames):
            stamp = round(index * INTERVAL_MS)
            start = time.perf_counter_ns()
            result = session.process(frame, arrival_ms=stamp)
            elapsed = time.perf_counter_ns() - start
            mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            start = time.perf_counter_ns()
            detected = landmarker.detect_for_video(mp_image, stamp)
            bare = time.perf_counter_ns() - start
            assert result.error is None, result.error
            if index < warmup:
                continue
            stage_ns.append(result.timings_ns)
            call_ns.append(elapsed)
            bare_ns.append(bare)
            found += result.values[graph.node_ids.index("hands")] is not None
            bare_found += bool(detected.hand_landmarks)
        alone = classify_alone(graph, result.values[graph.node_ids.index("normalize")], frames)
        values = dict(zip(graph.node_ids, result.values, strict=True))
        spelled = spell_alone(graph, values["smooth"], values["hands"], frames)
    finally:
        session.close()
        landmarker.close()
        graph.close()
    per_stage = np.array(stage_ns)
    return {
        "pipeline": pipeline,
        "nodes": {node: percentiles(per_stage[:, i]) for i, node in enumerate(graph.node_ids)},
        "classify_alone": percentiles(alone),
        "spell_alone": percentiles(spelled),
        "stages_sum": percentiles(per_stage.sum(axis=1)),
        "call": percentiles(call_ns),
        "mediapipe": percentiles(bare_ns),
        "hand_rate": found / frames,
        "bare_hand_rate": bare_found / frames,
        "bundle": hands.bundle_path.name,  # type: ignore[attr-defined]
    }


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("onnxruntime", "mediapipe", "numpy")
    )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"CPU: {cpu} ({os.cpu_count()} cores, load {load}); Python {platform.python_version()}; "
        f"{versions}; OpenCV {cv2.__version__}"
    )


def table(results: list[dict[str, Any]], frames: int) -> str:
    def cells(values: list[float]) -> str:
        return " | ".join(f"{v:.3f}" for v in values)

    lines = []
    for res in results:
        lines += [
            f"### `{res['pipeline']}` — {frames} frames of 640×480 JPEG q80, ms per frame "
            f"(hand found in {res['hand_rate']:.0%}; MediaPipe alone {res['bare_hand_rate']:.0%})",
            "",
            "| stage | p50 | p90 | p99 |",
            "|---|---:|---:|---:|",
        ]
        lines += [f"| {node} | {cells(v)} |" for node, v in res["nodes"].items()]
        ratios = " | ".join(
            f"{c / m:.2f}" for c, m in zip(res["call"], res["mediapipe"], strict=True)
        )
        bare = f"MediaPipe alone ({res['bundle']}, `detect_for_video`)"
        lines += [
            f"| **all stages** | {cells(res['stages_sum'])} |",
            f"| **`GraphSession.process` call** | {cells(res['call'])} |",
            f"| {bare} | {cells(res['mediapipe'])} |",
            f"| ratio whole call / MediaPipe | {ratios} |",
            "",
            f"classify alone, back to back: p50 {res['classify_alone'][0]:.3f} ms, "
            f"p90 {res['classify_alone'][1]:.3f} ms (goal p50 ≤ 0.1 ms)",
            "",
            f"spell alone, back to back on a spelling stream: p50 {res['spell_alone'][0]:.4f} ms, "
            f"p90 {res['spell_alone'][1]:.4f} ms, p99 {res['spell_alone'][2]:.4f} ms "
            "(goal ≤ 0.05 ms)",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--photo", type=Path, default=next(iter(sorted(PHOTO.glob("*.jpg")))))
    parser.add_argument("pipelines", nargs="*", default=["default.yaml", "fast.yaml"])
    args = parser.parse_args()
    frame = webcam_frame(args.photo)
    results = [measure(name, frame, args.frames, args.warmup) for name in args.pipelines]
    print(machine())
    print(f"frame: {args.photo.relative_to(REPO)} on 640×480, {len(frame)} bytes JPEG q80\n")
    print(table(results, args.frames))


if __name__ == "__main__":
    main()
