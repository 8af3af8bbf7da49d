"""MediaPipe without its uploader against MediaPipe with it: the cost of the pinned release.

Why: MediaPipe 0.10.35 and later (1.2.3 was ours) send usage statistics to Google from every
hand landmarker, with no way to turn it off, so ``pyproject.toml`` pins 0.10.31–0.10.33, which
are built without the uploader (see ``signify_stages.hands``). This measures what the older
release costs, on the work the service asks of MediaPipe, against the newer one in the same run:

* ``detect_for_video`` on a webcam-like frame while the hand is tracked (a session's frames);
* ``detect`` in image mode (palm detection every frame, as ``hands.mode: image`` does);
  both by the wall clock and by the CPU time of all the worker's threads, which a machine
  busy with other work disturbs less;
* making a landmarker (a session opening), its first frame, and closing it (a session leaving);
* the worker's resident memory once one landmarker has run;
* and whether the landmarks agree: both releases on the same photos (``--photos``, default the
  committed test photos), each padded by a 25 % black border, in image mode.

Each release runs in a worker process of its own Python environment (the baseline's is given by
``--baseline``; the candidate is this interpreter's). The driver hands both the same batches in
turns (ABBA), so both see the same load on the machine; one worker works at a time.

Run, with an environment holding the other release::

    python3 -m venv /tmp/mp123 && /tmp/mp123/bin/pip install mediapipe==1.2.3
    python benchmarks/mediapipe_versions.py --baseline /tmp/mp123/bin/python [--frames 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "tests/data/photos/L"
INTERVAL_MS = 1000 / 15


# -- the worker: one MediaPipe release, bare calls, commands on stdin -----------------------------
def worker() -> None:
    started = time.perf_counter()
    import cv2
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions, vision

    bundles = {
        m: (REPO / f"models/hand_landmarker_{m}.task").read_bytes() for m in ("full", "lite")
    }

    def landmarker(model: str, video: bool) -> Any:
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=bundles[model]), running_mode=mode
        )
        return vision.HandLandmarker.create_from_options(options)

    photo = cv2.imread(str(sorted(PHOTO.glob("*.jpg"))[0]))
    canvas = np.zeros((480, 640, 3), np.uint8)
    scale = min(440 / photo.shape[0], 600 / photo.shape[1])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top, left = (480 - photo.shape[0]) // 2, (640 - photo.shape[1]) // 2
    canvas[top : top + photo.shape[0], left : left + photo.shape[1]] = photo
    rgb = np.ascontiguousarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)

    first = landmarker("full", True)
    assert first.detect_for_video(image, 0).hand_landmarks, "no hand in the benchmark frame"
    ready = {
        "version": version("mediapipe"),
        "cold_start_ms": (time.perf_counter() - started) * 1e3,
        "rss_mib": rss_mib(),
    }
    first.close()
    print(json.dumps(ready), flush=True)

    tracked = {m: landmarker(m, True) for m in ("full", "lite")}
    still = {m: landmarker(m, False) for m in ("full", "lite")}
    clock = {m: 0 for m in tracked}
    for line in sys.stdin:
        command = json.loads(line)
        model, count = command["model"], command["count"]
        times: list[float] = []
        if command["op"] == "video":
            for _ in range(count):
                clock[model] += 1
                stamp = round(clock[model] * INTERVAL_MS)
                t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                found = tracked[model].detect_for_video(image, stamp).hand_landmarks
                c1, t1 = time.process_time_ns(), time.perf_counter_ns()
                times.append([(t1 - t0) / 1e6, (c1 - c0) / 1e6])  # type: ignore[arg-type]
                assert found
        elif command["op"] == "image":
            for _ in range(count):
                t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                found = still[model].detect(image).hand_landmarks
                c1, t1 = time.process_time_ns(), time.perf_counter_ns()
                times.append([(t1 - t0) / 1e6, (c1 - c0) / 1e6])  # type: ignore[arg-type]
                assert found
        elif command["op"] == "landmarks":  # each photo, padded by 25 %, in image mode
            for path in sorted(Path(command["photos"]).glob("*/*.jpg")):
                bgr = cv2.imread(str(path))
                pad = bgr.shape[0] // 4
                bgr = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
                data = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                hands = still[model].detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=data))
                points = hands.hand_landmarks[0] if hands.hand_landmarks else []
                times.append([[p.x, p.y, p.z] for p in points])  # type: ignore[arg-type]
        else:  # "session": make a landmarker, run one frame, close it
            for _ in range(count):
                t0 = time.perf_counter_ns()
                one = landmarker(model, True)
                t1 = time.perf_counter_ns()
                one.detect_for_video(image, 0)
                t2 = time.perf_counter_ns()
                one.close()
                t3 = time.perf_counter_ns()
                times.append([(t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6])  # type: ignore[arg-type]
        print(json.dumps({"times": times}), flush=True)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def version(name: str) -> str:
    from importlib.metadata import version as installed

    return installed(name)


# -- the driver ---------------------------------------------------------------------------------
class Worker:
    def __init__(self, python: str) -> None:
        self.process = subprocess.Popen(
            [python, "-P", __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # MediaPipe's native log lines
            text=True,
            cwd="/",
        )
        self.ready = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.args} exited: {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, op: str, model: str, count: int, **more: str) -> list[Any]:
        assert self.process.stdin is not None
        command = {"op": op, "model": model, "count": count, **more}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        times: list[Any] = self._reply()["times"]
        return times

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def interleaved(arms: list[Worker], op: str, model: str, total: int, batch: int) -> list[list[Any]]:
    """``total`` calls per arm in batches, ABBA order so neither always goes first."""
    results: list[list[Any]] = [[] for _ in arms]
    for round_ in range(0, total, batch):
        order = range(len(arms)) if (round_ // batch) % 2 == 0 else reversed(range(len(arms)))
        for i in order:
            results[i] += arms[i].run(op, model, min(batch, total - round_))
    return results


def compare(arms: list[Worker], model: str, photos: Path) -> str:
    """How far the two releases' landmarks lie apart on the same photos."""
    import numpy as np

    base, cand = (arm.run("landmarks", model, 0, photos=str(photos)) for arm in arms)
    both = [(b, c) for b, c in zip(base, cand, strict=True) if b and c]
    if not both:
        return f"{model}: no photo with a hand in both"
    diff = np.abs(np.array([b for b, _ in both]) - np.array([c for _, c in both]))[..., :2]
    return (
        f"{model}: hands found in {sum(map(bool, base))} / {sum(map(bool, cand))} of "
        f"{len(base)} photos (baseline / candidate), {len(both)} in both; x, y differ by "
        f"{diff.mean():.1e} on average, {diff.max():.1e} at most (image-normalised units)"
    )


def percentiles(values: list[float]) -> list[float]:
    import numpy as np

    return [float(v) for v in np.percentile(np.asarray(values), [50, 90, 99, 100])]


def machine() -> str:
    cpu = platform.processor() or "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"CPU: {cpu} ({os.cpu_count()} cores, load {load}); Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the Python of the other release (required)")
    parser.add_argument("--candidate", default=sys.executable, help="default: this Python")
    parser.add_argument("--frames", type=int, default=400, help="calls per arm and kind")
    parser.add_argument("--sessions", type=int, default=40, help="landmarkers made per arm")
    parser.add_argument(
        "--photos", type=Path, default=REPO / "tests/data/photos", help="LETTER/*.jpg photos"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.baseline is None:
        parser.error("--baseline PYTHON is required")
    arms = [Worker(args.baseline), Worker(args.candidate)]
    names = [f"mediapipe {arm.ready['version']}" for arm in arms]
    rows: list[tuple[str, list[float], list[float]]] = []
    for model in ("full", "lite"):
        for op, what in (("video", "`detect_for_video`, hand tracked"), ("image", "`detect`")):
            interleaved(arms, op, model, 50, 25)  # warm-up
            base, cand = interleaved(arms, op, model, args.frames, 25)
            for i, clock in enumerate(("wall", "CPU, all threads")):
                b = [t[i] for t in base]
                c = [t[i] for t in cand]
                rows.append((f"{model}: {what} ({clock})", percentiles(b), percentiles(c)))
        base, cand = interleaved(arms, "session", model, args.sessions, 1)
        for i, what in enumerate(("make a landmarker", "its first frame", "close it")):
            b = [t[i] for t in base]
            c = [t[i] for t in cand]
            rows.append((f"{model}: {what}", percentiles(b), percentiles(c)))
    agreement = [compare(arms, model, args.photos) for model in ("full", "lite")]
    for arm in arms:
        arm.close()
    print(machine())
    print(f"baseline {names[0]} ({args.baseline}); candidate {names[1]} ({args.candidate})")
    print(f"{args.frames} calls per arm and kind (batches of 25, ABBA), {args.sessions} sessions\n")
    head = "p50 / p90 / p99 / max"
    print(f"| ms | {names[0]}: {head} | {names[1]}: {head} | ratio, {head} |")
    print("|---|---:|---:|---:|")
    for what, b, c in rows:
        cells = [" / ".join(f"{v:.2f}" for v in values) for values in (b, c)]
        ratio = " / ".join(f"{y / x:.2f}" if x else "–" for x, y in zip(b, c, strict=True))
        print(f"| {what} | {cells[0]} | {cells[1]} | {ratio} |")
    print(f"\nLandmarks on {args.photos}, each photo padded by 25 %, image mode:")
    for line in agreement:
        print(f"- {line}")
    for name, arm in zip(names, arms, strict=True):
        ready = arm.ready
        print(
            f"\n{name}: import + first landmarker + first frame {ready['cold_start_ms']:.0f} ms; "
            f"RSS then {ready['rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
