"""One classifier call, batch 1, for two model files measured in the same run.

Why: the classify stage has a budget of 0.1 ms p50 on one thread (#4), and a retrained model
may be wider, deeper or take more features. Timing the shipped model against a baseline file
(e.g. the previous release's, ``git show REV:models/classifier.onnx > /tmp/old.onnx``),
interleaved call by call so both see the same machine load, says whether a change costs time.

Each model gets a window of its own feature width (read from its input), T from its metadata,
one thread, as the classify stage runs it.

Run: ``python benchmarks/classifier_models.py [--baseline /tmp/old.onnx] [--calls 20000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "classifier.onnx"


def session(path: Path) -> tuple[ort.InferenceSession, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    window = int(sess.get_modelmeta().custom_metadata_map.get("window", "8"))
    width = int(sess.get_inputs()[0].shape[2])
    x = np.random.default_rng(0).normal(size=(1, window, width)).astype(np.float32)
    return sess, x


def percentiles(times: list[float]) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(np.array(times) * 1e3, [50, 90, 99])
    return float(p50), float(p90), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=SHIPPED)
    parser.add_argument("--baseline", type=Path, help="another model file, timed alongside")
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    models = {"model": session(args.model)}
    if args.baseline:
        models["baseline"] = session(args.baseline)
    times: dict[str, list[float]] = {name: [] for name in models}
    for sess, x in models.values():
        for _ in range(500):
            sess.run(None, {"features": x})
    for _ in range(args.calls):
        for name, (sess, x) in models.items():
            start = time.perf_counter()
            sess.run(None, {"features": x})
            times[name].append(time.perf_counter() - start)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, onnxruntime {ort.__version__}; "
        f"{args.calls} calls each, interleaved, batch 1, one thread; ms"
    )
    print("| model | input | p50 | p90 | p99 |")
    print("|---|---|---:|---:|---:|")
    for name, (_, x) in models.items():
        p50, p90, p99 = percentiles(times[name])
        path = args.model if name == "model" else args.baseline
        print(f"| {name} `{path}` | {tuple(x.shape)} | {p50:.4f} | {p90:.4f} | {p99:.4f} |")
    if args.baseline:
        ratio = percentiles(times["model"])[0] / percentiles(times["baseline"])[0]
        print(f"ratio model / baseline, p50: {ratio:.2f}")


if __name__ == "__main__":
    main()
