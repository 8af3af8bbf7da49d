"""One frame's latency through ``pipelines/symmetric.yaml``, its two views in turn or at once.

Why: the symmetric pipeline runs MediaPipe twice per frame, on the frame and on its mirror
image. The engine runs the two branches at the same time (``signify_graph._branches``); this
measures what that buys one stream, against the same graph run one node after the other,
interleaved frame by frame so both see the same machine load, and against ``default.yaml``
(one view) as the baseline a client would otherwise get.

Frames: the committed photos on a black 640×480 canvas, JPEG q80, each held for 15 frames of
one session (a frame every 1/15 s of engine time), as a live client sends them.

Run: ``python benchmarks/branches.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from signify_graph import GraphSession, build_graph, create_host, plan_pipeline

ROOT = Path(__file__).resolve().parents[1]


def webcam_frames() -> list[bytes]:
    frames = []
    for path in sorted((ROOT / "tests" / "data" / "photos").glob("*/*.jpg"))[::3]:
        photo = cv2.imread(str(path))
        canvas = np.zeros((480, 640, 3), np.uint8)
        h, w = photo.shape[:2]
        top, left = (480 - h) // 2, (640 - w) // 2
        canvas[top : top + h, left : left + w] = photo
        ok, jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        frames.append(jpeg.tobytes())
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    host = create_host()
    graphs = {
        "default": build_graph(plan_pipeline(ROOT / "pipelines/default.yaml", host.registry), host),
        "symmetric, in turn": build_graph(
            plan_pipeline(ROOT / "pipelines/symmetric.yaml", host.registry),
            host,
            concurrent=False,
        ),
        "symmetric, at once": build_graph(
            plan_pipeline(ROOT / "pipelines/symmetric.yaml", host.registry), host
        ),
    }
    sessions: dict[str, GraphSession] = {name: g.open_session(name) for name, g in graphs.items()}
    times: dict[str, list[float]] = {name: [] for name in graphs}
    frames = webcam_frames()
    clock = 0
    for round_ in range(args.rounds + 1):  # round 0 warms up
        for frame in frames:
            for _ in range(15):
                clock += 66
                for name, session in sessions.items():
                    start = time.perf_counter()
                    result = session.process(frame, arrival_ms=clock)
                    elapsed = (time.perf_counter() - start) * 1000
                    assert result.error is None, result.error
                    if round_:
                        times[name].append(elapsed)
    base = float(np.median(times["default"]))
    print(f"{len(times['default'])} frames each, ms per frame (GraphSession.process)")
    print(f"{'graph':<20} {'p50':>7} {'p90':>7} {'p99':>7} {'p50 / default':>14}")
    for name, values in times.items():
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        print(f"{name:<20} {p50:7.2f} {p90:7.2f} {p99:7.2f} {p50 / base:14.2f}")
    for name, session in sessions.items():
        session.close()
        graphs[name].close()


if __name__ == "__main__":
    main()
