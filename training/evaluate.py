"""Evaluate a classifier on held-out hands: accuracy, per-letter accuracy, confusions, latency.

Photos are evaluated as the server would see a hand held still: a window of T identical
frames. ``python -m training.evaluate models/classifier.onnx`` evaluates the shipped model on
``roboflow_valid`` (and, with ``--test``, on ``roboflow_test``: report that once).

``--photos`` instead runs the photos themselves through the whole serving path,
``training/photos.yaml`` (decode → hands → normalize → classify, with the project's stages),
and scores the classify stage's output over the photos where a hand was found.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .augment import features, static_windows
from .data import Source, load, mirrored


def static_features(
    source: Source, window: int, *, mirror: bool = False, flat: bool = False
) -> npt.NDArray[np.float32]:
    """Feature windows (N, T, F) of a source's hands, each held still for T frames.

    ``mirror`` reflects every hand; ``flat`` drops its depth (z = 0), as a 2-D client sends.
    """
    X = mirrored(source.X) if mirror else source.X
    if flat:
        X = X.copy()
        X[..., 2] = 0.0
    return static_windows(features(X, source.aspect), window)


def run_windows(source: Source, window: int, stride: int = 2) -> npt.NDArray[np.float32]:
    """Feature windows (N, T, 66) of a source's consecutive video frames, as a live client's
    frames reach the classify stage: each row with the T − 1 frames before it in its run, every
    ``stride``-th (2: a 30 fps recording seen at 15 fps), padded at a run's start by repeating
    its first frame. For sources without runs (``order`` all 0) every window is still."""
    from .sampler import _previous_frames

    previous = _previous_frames([source])
    frames = np.repeat(np.arange(len(source))[:, None], window, axis=1)
    for t in range(window - 2, -1, -1):
        step = frames[:, t + 1]
        for _ in range(stride):
            step = previous[step]
        frames[:, t] = step
    values = features(source.X, source.aspect)
    return values[frames]


def score(
    probs: npt.NDArray[np.float32], y: npt.NDArray[np.str_], labels: list[str]
) -> dict[str, Any]:
    """Accuracy, per-letter accuracy and the most frequent confusions (true→predicted)."""
    predicted = np.array(labels)[probs.argmax(axis=1)]
    correct = predicted == y
    per_letter = {
        letter: {
            "n": int((y == letter).sum()),
            "accuracy": round(float(correct[y == letter].mean()), 4),
        }
        for letter in sorted(set(y.tolist()))
    }
    confusions = Counter(f"{t}->{p}" for t, p in zip(y, predicted, strict=True) if t != p)
    return {
        "n": len(y),
        "accuracy": round(float(correct.mean()), 4),
        "per_letter": per_letter,
        "confusions": dict(confusions.most_common(12)),
    }


class OnnxClassifier:
    """The exported model as the server runs it: onnxruntime, one intra-op thread."""

    def __init__(self, path: Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = meta
        self.labels: list[str] = json.loads(meta["labels"])
        self.window = int(meta["window"])

    def predict(
        self, windows: npt.NDArray[np.float32], batch: int = 1024
    ) -> npt.NDArray[np.float32]:
        out = [
            self.session.run(["probabilities"], {"features": windows[i : i + batch]})[0]
            for i in range(0, len(windows), batch)
        ]
        return np.concatenate(out)

    def latency_ms(self, window: int | None = None, runs: int = 2000) -> dict[str, float]:
        """p50 / p90 of one inference, batch 1, after warm-up."""
        n_features = int(self.session.get_inputs()[0].shape[2])
        shape = (1, window or self.window, n_features)
        x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        for _ in range(200):
            self.session.run(None, {"features": x})
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self.session.run(None, {"features": x})
            times.append(time.perf_counter() - start)
        ms = np.array(times) * 1000
        return {
            "p50": round(float(np.percentile(ms, 50)), 4),
            "p90": round(float(np.percentile(ms, 90)), 4),
        }


def evaluate_onnx(
    model: OnnxClassifier, source: Source, *, mirror: bool = False, window: int | None = None
) -> dict[str, Any]:
    windows = static_features(source, window or model.window, mirror=mirror)
    return score(model.predict(windows), source.y, model.labels)


def evaluate_sources(model: OnnxClassifier, sources: list[Source]) -> dict[str, Any]:
    """Each source as it is, mirrored and with T = 1, then the model's latency; printed too."""
    results: dict[str, Any] = {}
    for source in sources:
        for key, kwargs in (
            (source.name, {}),
            (source.name + "_mirrored", {"mirror": True}),
            (source.name + "_T1", {"window": 1}),
        ):
            results[key] = evaluate_onnx(model, source, **kwargs)
            print(summary(key, results[key]))
    results["latency_ms"] = model.latency_ms()
    print(f"onnxruntime latency, batch 1, T={model.window}, 1 thread: {results['latency_ms']}")
    return results


def summary(name: str, result: dict[str, Any]) -> str:
    worst = sorted(result["per_letter"].items(), key=lambda kv: kv[1]["accuracy"])[:5]
    worst_text = ", ".join(f"{k} {v['accuracy']:.0%}" for k, v in worst)
    top = ", ".join(f"{k}×{v}" for k, v in list(result["confusions"].items())[:6])
    return (
        f"{name:<24} n={result['n']:<6} accuracy {result['accuracy']:.2%}   "
        f"worst: {worst_text}   confusions: {top}"
    )


def evaluate_photos(pipeline: Path, model: Path, images: Path, splits: list[str]) -> dict[str, Any]:
    """Accuracy of the whole pipeline on photos, over those where ``hands`` found a hand."""
    from signify_graph import Control, Probabilities, build_graph, create_host, plan_pipeline

    host = create_host()
    override = f"classify.model={model.resolve()}"
    graph = build_graph(plan_pipeline(pipeline, host.registry, overrides=[override]), host)
    out_index = graph.node_ids.index("classify")
    results: dict[str, Any] = {}
    with graph.open_session("evaluate") as session:
        for split in splits:
            truth, probs, labels, missed = [], [], None, 0
            for path in sorted((images / split).glob("*/*.jpg")):
                session.reset(Control())  # a photo is its own clip: nothing carried over
                result = session.process(path.read_bytes())
                if result.error is not None:
                    raise RuntimeError(f"{path}: {result.error}")
                value = result.values[out_index]
                if value is None:
                    missed += 1
                    continue
                assert isinstance(value, Probabilities)
                labels = list(value.labels)
                truth.append(path.parent.name)
                probs.append(value.values)
            assert labels is not None
            results[split] = score(np.stack(probs), np.array(truth), labels)
            results[split]["photos"] = len(truth) + missed
            results[split]["no_hand"] = missed
            print(
                summary(f"pipeline {split}", results[split])
                + f"   (no hand in {missed} of {len(truth) + missed} photos)"
            )
    graph.close()
    return results


def main(argv: list[str] | None = None) -> None:
    args_given = sys.argv[1:] if argv is None else argv
    if "--loso" in args_given:  # the honest estimate lives in training.loso; same options
        from .loso import main as loso_main

        loso_main([a for a in args_given if a != "--loso"])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, epilog="--loso [OPTIONS]: leave-one-source-out (training.loso)"
    )
    parser.add_argument("model", type=Path, nargs="?", default=Path("models/classifier.onnx"))
    parser.add_argument("--test", action="store_true", help="also evaluate roboflow_test (once)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--photos",
        action="store_true",
        help="run the photos through the whole pipeline (training/photos.yaml)",
    )
    parser.add_argument(
        "--images", type=Path, default=Path("/work/shared/data/images/roboflow_asl_letters")
    )
    args = parser.parse_args(argv)
    if args.photos:
        pipeline = Path(__file__).resolve().parent / "photos.yaml"
        photo_results = evaluate_photos(
            pipeline, args.model, args.images, ["valid", *(["test"] if args.test else [])]
        )
        if args.out:
            args.out.write_text(json.dumps(photo_results, indent=1, sort_keys=True) + "\n")
        return
    sources = [load(name) for name in ["roboflow_valid", *(["roboflow_test"] if args.test else [])]]
    for source in sources:
        print(source.describe())
    results = evaluate_sources(OnnxClassifier(args.model), sources)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
