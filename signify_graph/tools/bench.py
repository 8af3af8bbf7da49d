"""``signify-graph bench``: where the time goes, per stage, against the old service's way.

On real photos placed on a 640×480 canvas (as a webcam frame), each held for 15 frames like a
signer holding a letter, it measures in one run:

* every stage's own time per frame (p50/p90/p99) and the whole ``GraphSession.process`` call;
* the engine's overhead: the whole call minus the sum of the stages' own time;
* the same work done the old service's way (``docs/MIGRATING.md``) — one MediaPipe tracker
  and one window for
  everybody, its list-based normalisation and smoothing, the ONNX model run twice per frame
  with default threading — and the ratio of the two.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import SignifyError
from .._graph import Graph
from . import inputs as _inputs
from .measures import percentiles

HOLD_FRAMES = 15


def webcam_frames(folder: Path) -> list[bytes]:
    """Photos centred on a black 640×480 canvas and encoded as JPEG q80, as a phone sends."""
    import cv2

    frames = []
    for path in _inputs.photos(folder):
        image = cv2.imread(str(path))
        if image is None:
            continue
        scale = min(400 / image.shape[0], 560 / image.shape[1], 1.0)
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.zeros((480, 640, 3), np.uint8)
        top, left = (480 - image.shape[0]) // 2, (640 - image.shape[1]) // 2
        canvas[top : top + image.shape[0], left : left + image.shape[1]] = image
        ok, jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            frames.append(jpeg.tobytes())
    return frames


def _landmarker(bundle: str) -> Any:
    """A MediaPipe hand landmarker with the library's defaults, in video mode."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=bundle),
        running_mode=vision.RunningMode.VIDEO,
        num_hands=1,
    )
    return vision.HandLandmarker.create_from_options(options)


class OldServiceWay:
    """The old service's per-frame work, rebuilt for comparison. It takes the model files
    from what the graph's stages declare (``identity()``, ``labels``), as ``/health`` does."""

    def __init__(self, graph: Graph) -> None:
        import onnxruntime as ort

        identities = [dict(s.identity()) for s in graph.stages.values()]
        bundle = next((i["bundle"] for i in identities if "bundle" in i), None)
        model = next((i for i in identities if "window" in i and "model" in i), None)
        labels = graph.labels
        if model is None or labels is None:
            raise SignifyError(f"pipeline '{graph.name}' has no classifier to compare with")
        self.session = ort.InferenceSession(model["model"], providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.window = int(model["window"])
        self.labels = list(labels)
        self.landmarker = None if bundle is None else _landmarker(str(bundle))
        self.history: list[list[float]] = []
        self.clock = 0

    def frame(self, payload: Any) -> str:
        import cv2
        import mediapipe as mp

        points: list[list[float]]
        if self.landmarker is not None:
            bgr: Any = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self.clock += 66
            result = self.landmarker.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), self.clock
            )
            if not result.hand_landmarks:
                return json.dumps({"maxarg_letter": "A", "target_arg_prob": 0.0})
            points = [[p.x, p.y, p.z] for p in result.hand_landmarks[0]]
        else:
            points = payload["landmarks"]
        wrist = points[0]
        flat = [c - w for p in points for c, w in zip(p, wrist, strict=True)]
        peak = max(abs(v) for v in flat) or 1.0
        features = [v / peak for v in flat]
        batch = np.asarray([[features] * self.window], np.float32)
        self.session.run(None, {self.input_name: batch})  # it ran the model twice per frame
        probs = self.session.run(None, {self.input_name: batch})[0][0].tolist()
        self.history.append(probs)
        if len(self.history) > 5:
            self.history.pop(0)
        mean = [sum(row[i] for row in self.history) / len(self.history) for i in range(len(probs))]
        best = max(range(len(mean)), key=mean.__getitem__)
        return json.dumps({"maxarg_letter": self.labels[best], "target_arg_prob": mean[best]})

    def close(self) -> None:
        if self.landmarker is not None:
            self.landmarker.close()


def measure(graph: Graph, items: list[Any], frames: int, warmup: int) -> dict[str, Any]:
    stage_ns: list[list[int]] = [[] for _ in graph.node_ids]
    total_ns: list[int] = []
    baseline_ns: list[int] = []
    clock = time.perf_counter_ns
    baseline_way = OldServiceWay(graph)
    with graph.open_session("bench") as session:
        for n in range(warmup + frames):
            item = items[(n // HOLD_FRAMES) % len(items)]
            start = clock()
            result = session.process(item, arrival_ms=n * 66)
            ours = clock() - start
            start = clock()
            baseline_way.frame(item)
            theirs = clock() - start
            if n >= warmup:
                total_ns.append(ours)
                baseline_ns.append(theirs)
                for i, spent in enumerate(result.timings_ns):
                    stage_ns[i].append(spent)
    baseline_way.close()
    ms = 1e-6
    stages = {
        node: percentiles([v * ms for v in stage_ns[i]]) for i, node in enumerate(graph.node_ids)
    }
    overhead = [(t - sum(s[k] for s in stage_ns)) * ms for k, t in enumerate(total_ns)]
    total = percentiles([v * ms for v in total_ns])
    baseline = percentiles([v * ms for v in baseline_ns])
    return {
        "pipeline": graph.name,
        "frames": frames,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu": cpu_model(),
        },
        "stages_ms": stages,
        "total_ms": total,
        "overhead_ms": percentiles(overhead),
        "overhead_share": statistics.median(overhead) / total["p50"],
        "old_service_ms": baseline,
        "speedup_p50": baseline["p50"] / total["p50"],
    }


def cpu_model() -> str:
    """The CPU's model name, for benchmark reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def render(figures: dict[str, Any]) -> str:
    lines = [
        f"pipeline {figures['pipeline']}: {figures['frames']} frames, "
        f"{figures['machine']['cpu']}, Python {figures['machine']['python']}",
        "",
        "| stage | p50 ms | p90 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    rows = [
        *figures["stages_ms"].items(),
        ("**total (process call)**", figures["total_ms"]),
        ("engine overhead", figures["overhead_ms"]),
        ("the old service's way", figures["old_service_ms"]),
    ]
    for name, p in rows:
        lines.append(f"| {name} | {p['p50']:.3f} | {p['p90']:.3f} | {p['p99']:.3f} |")
    lines += [
        "",
        f"engine overhead: {100 * figures['overhead_share']:.2f} % of the total (p50)",
        f"the old service's way / ours (p50): {figures['speedup_p50']:.2f}×",
    ]
    return "\n".join(lines)
