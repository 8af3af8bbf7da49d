"""Leave-one-source-out: the honest estimate of accuracy for a person the model has never seen.

For every source (a person, or one photo collection), train on all the others and test on it;
then report per-source accuracy, the mean, the median, the worst five, and a per-letter table
(which letters fail across people, and for whom). Never a random split of frames: most sources
are runs of webcam frames, whose neighbours are near-duplicates.

``--folds K`` holds out K groups of sources instead of one source at a time (each source is still
tested only by a model that never saw it): cheaper, a little pessimistic (each model sees fewer
people), and what recipe choices are made with. Folds run in ``--workers`` processes, each
training single-threaded; on two cores two workers halve the wall time.

A held-out source is scored as the server sees a hand held still (T identical frames), also
mirrored and, for 3-D sources, with z dropped (as a 2-D client would send it).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from .augment import AugmentConfig
from .data import Source, load_many
from .evaluate import score
from .model import predict
from .train import TrainConfig, add_setting_options, fit, labels_of

#: A source must hold this many letters for the "every source ≥ 85 %" goal to apply to it.
BROAD_SOURCE_LETTERS = 20


def folds_of(names: list[str], k: int | None) -> list[list[str]]:
    """One fold per source (``k`` None), or ``k`` groups dealt round-robin by size."""
    if k is None or k >= len(names):
        return [[name] for name in names]
    sizes = {s.name: len(s.letters) * 1000 + len(s) for s in load_many(names)}
    ordered = sorted(names, key=lambda n: -sizes[n])
    groups: list[list[str]] = [[] for _ in range(k)]
    for i, name in enumerate(ordered):
        lap, offset = divmod(i, k)
        groups[offset if lap % 2 == 0 else k - 1 - offset].append(name)
    return groups


def score_source(net: Any, held: Source, labels: list[str], window: int) -> dict[str, Any]:
    """Accuracy of ``net`` on ``held`` as it is, mirrored, and without z (3-D sources)."""
    from .evaluate import run_windows, static_features

    probs = predict(net, static_features(held, window))
    result = score(probs, held.y, labels)
    result["probabilities"] = probs  # kept apart from the JSON (see ``run``)
    result["letters"] = len(held.letters)
    result["has_z"] = held.has_z
    result["mirrored"] = score(
        predict(net, static_features(held, window, mirror=True)), held.y, labels
    )["accuracy"]
    if held.has_z:
        result["flat"] = score(
            predict(net, static_features(held, window, flat=True)), held.y, labels
        )["accuracy"]
    if held.order.any():
        # Consecutive video frames: the letters as signed, J and Z with their motion.
        moving = score(predict(net, run_windows(held, window)), held.y, labels)
        result["runs"] = {
            "accuracy": moving["accuracy"],
            **{k: moving["per_letter"][k]["accuracy"] for k in "JZ" if k in moving["per_letter"]},
        }
    if held.name.startswith("img_") and not np.allclose(held.aspect, 1.0):
        # Photos of known aspect read as square: what a client that sends no aspect costs.
        square = replace(held, aspect=np.ones_like(held.aspect))
        result["square"] = score(predict(net, static_features(square, window)), held.y, labels)[
            "accuracy"
        ]
    return result


def run_fold(job: tuple[list[str], list[str], TrainConfig, AugmentConfig]) -> dict[str, Any]:
    """Train on every source but ``held`` and score each held-out source."""
    names, held, cfg, aug = job
    started = time.time()
    train = load_many([n for n in names if n not in held])
    labels = labels_of(load_many(names))
    net, _ = fit(train, labels, cfg, aug, quiet=True)
    results = {s.name: score_source(net, s, labels, cfg.window) for s in load_many(held)}
    seconds = time.time() - started
    for name, result in results.items():
        print(
            f"  seed {cfg.seed} held out {name:<24} {result['accuracy']:7.2%}  "
            f"({result['n']} hands, {result['letters']} letters; fold {seconds:.0f} s)",
            flush=True,
        )
    return {"seed": cfg.seed, "held": held, "results": results, "seconds": seconds}


def run(
    names: list[str],
    cfg: TrainConfig,
    aug: AugmentConfig,
    *,
    folds: int | None = None,
    seeds: list[int] | None = None,
    workers: int = 2,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Every fold for every seed; the per-source results averaged over seeds, and summaries."""
    seeds = seeds or [cfg.seed]
    groups = [g for g in folds_of(names, folds) if not only or set(g) & set(only)]
    jobs = [(names, group, replace(cfg, seed=seed), aug) for seed in seeds for group in groups]
    started = time.time()
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            outputs = pool.map(run_fold, jobs, chunksize=1)
    else:
        outputs = [run_fold(job) for job in jobs]
    by_source: dict[str, list[dict[str, Any]]] = {}
    probabilities: dict[str, Any] = {}
    for output in outputs:
        for name, result in output["results"].items():
            probabilities[f"{name}/seed{output['seed']}"] = result.pop("probabilities")
            by_source.setdefault(name, []).append(result)
    per_source = {name: _mean_over_seeds(runs) for name, runs in by_source.items()}
    return {
        "config": asdict(cfg),
        "augment": asdict(aug),
        "seeds": seeds,
        "folds": "leave-one-source-out" if folds is None else f"{folds} groups of sources",
        "sources": per_source,
        "summary": summarise(per_source),
        "per_letter": per_letter(per_source),
        "minutes": round((time.time() - started) / 60, 1),
        "fold_seconds": [round(o["seconds"]) for o in outputs],
        "probabilities": probabilities,
    }


def _mean_over_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = runs[0]
    out: dict[str, Any] = {
        "n": first["n"],
        "letters": first["letters"],
        "has_z": first["has_z"],
        "accuracy": round(float(np.mean([r["accuracy"] for r in runs])), 4),
        "by_seed": [r["accuracy"] for r in runs],
        "mirrored": round(float(np.mean([r["mirrored"] for r in runs])), 4),
        "per_letter": {
            letter: {
                "n": entry["n"],
                "accuracy": round(
                    float(np.mean([r["per_letter"][letter]["accuracy"] for r in runs])), 4
                ),
            }
            for letter, entry in first["per_letter"].items()
        },
        "confusions": first["confusions"],
    }
    for key in ("flat", "square"):
        if key in first:
            out[key] = round(float(np.mean([r[key] for r in runs])), 4)
    if "runs" in first:
        out["runs"] = {
            k: round(float(np.mean([r["runs"][k] for r in runs])), 4) for k in first["runs"]
        }
    return out


def summarise(per_source: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean, median, worst five; the broad sources' minimum; the 2-D (z dropped) mean."""
    accuracy = {name: r["accuracy"] for name, r in per_source.items()}
    broad = {n: a for n, a in accuracy.items() if per_source[n]["letters"] >= BROAD_SOURCE_LETTERS}
    flat = [r["flat"] for r in per_source.values() if "flat" in r]
    square = [(r["accuracy"], r["square"]) for r in per_source.values() if "square" in r]
    worst = sorted(accuracy.items(), key=lambda kv: kv[1])[:5]
    return {
        "sources": len(accuracy),
        "mean": round(statistics.fmean(accuracy.values()), 4),
        "median": round(statistics.median(accuracy.values()), 4),
        "worst_five": dict(worst),
        "broad_sources": len(broad),
        "broad_mean": round(statistics.fmean(broad.values()), 4) if broad else None,
        "broad_min": min(broad.items(), key=lambda kv: kv[1]) if broad else None,
        "broad_below_85": sorted(n for n, a in broad.items() if a < 0.85),
        "flat_mean": round(statistics.fmean(flat), 4) if flat else None,
        "aspect_ignored": {
            "sources": len(square),
            "mean": round(statistics.fmean(a for a, _ in square), 4),
            "mean_read_as_square": round(statistics.fmean(b for _, b in square), 4),
        }
        if square
        else None,
        "mirrored_mean": round(statistics.fmean(r["mirrored"] for r in per_source.values()), 4),
    }


def per_letter(per_source: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per letter: the mean over the sources holding it (a person counts once), and the worst."""
    table: dict[str, dict[str, Any]] = {}
    letters = sorted({letter for r in per_source.values() for letter in r["per_letter"]})
    for letter in letters:
        cells = {
            name: r["per_letter"][letter]["accuracy"]
            for name, r in per_source.items()
            if letter in r["per_letter"]
        }
        worst = sorted(cells.items(), key=lambda kv: kv[1])[:3]
        table[letter] = {
            "sources": len(cells),
            "mean": round(statistics.fmean(cells.values()), 4),
            "below_80": sum(a < 0.8 for a in cells.values()),
            "worst": dict(worst),
        }
    return table


def report(results: dict[str, Any]) -> str:
    """The table printed at the end of a run (and kept in the model card)."""
    lines = [
        f"{'held-out source':<26}{'hands':>7}{'letters':>8}{'accuracy':>10}"
        f"{'mirrored':>10}{'no z':>8}"
    ]
    for name, r in sorted(results["sources"].items(), key=lambda kv: kv[1]["accuracy"]):
        flat = f"{r['flat']:>8.1%}" if "flat" in r else f"{'(2-D)':>8}"
        lines.append(
            f"{name:<26}{r['n']:>7}{r['letters']:>8}{r['accuracy']:>10.1%}"
            f"{r['mirrored']:>10.1%}{flat}"
        )
    s = results["summary"]
    lines.append(
        f"\n{s['sources']} sources ({results['folds']}, seeds {results['seeds']}): "
        f"mean {s['mean']:.1%}, median {s['median']:.1%}; worst five: "
        + ", ".join(f"{n} {a:.1%}" for n, a in s["worst_five"].items())
    )
    if s["broad_min"]:
        lines.append(
            f"{s['broad_sources']} sources with ≥ {BROAD_SOURCE_LETTERS} letters: mean "
            f"{s['broad_mean']:.1%}, lowest {s['broad_min'][0]} {s['broad_min'][1]:.1%}; "
            f"below 85 %: {', '.join(s['broad_below_85']) or 'none'}"
        )
    if s["flat_mean"] is not None:
        lines.append(f"3-D sources with z dropped: mean {s['flat_mean']:.1%}")
    for name, r in results["sources"].items():
        if "runs" in r:
            moving = ", ".join(f"{k} {v:.1%}" for k, v in r["runs"].items())
            lines.append(f"{name}, its consecutive frames as signed (motion): {moving}")
    if s["aspect_ignored"]:
        a = s["aspect_ignored"]
        lines.append(
            f"{a['sources']} photo sources of 4:3 or 16:9: mean {a['mean']:.1%} with their "
            f"aspect, {a['mean_read_as_square']:.1%} read as square (aspect not sent)"
        )
    lines.append("\nper letter (mean over the sources holding it; sources below 80 %; worst):")
    for letter, entry in results["per_letter"].items():
        worst = ", ".join(f"{n} {a:.0%}" for n, a in entry["worst"].items())
        counts = f"{entry['below_80']:>2}/{entry['sources']:<3}"
        lines.append(f"  {letter}  {entry['mean']:6.1%}  {counts} {worst}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json
    import shlex
    import sys

    from .data import all_training_sources
    from .train import RESULTS, parse_settings

    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate --loso",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--folds", type=int, help="K groups of sources instead of one each")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0], help="seeds to average")
    parser.add_argument("--workers", type=int, default=2, help="folds trained at once")
    parser.add_argument("--only", nargs="*", default=[], help="only the folds holding these")
    parser.add_argument("--sources", nargs="*", help="sources to use (default: every one)")
    parser.add_argument(
        "--out", type=Path, help="results JSON (default training/results/loso.json)"
    )
    parser.add_argument(
        "--save-probabilities",
        action="store_true",
        help="also write each held-out hand's probabilities (OUT.probabilities.npz)",
    )
    add_setting_options(parser)
    args = parser.parse_args(argv)
    cfg, aug = parse_settings(args.set, args.aug)
    names = args.sources or list(all_training_sources())
    command = "python -m training.evaluate --loso " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv) if a != "--loso"
    )
    print(f"command: {command}\nconfig: {asdict(cfg)}\naugment: {asdict(aug)}", flush=True)
    results = run(
        names, cfg, aug, folds=args.folds, seeds=args.seeds, workers=args.workers, only=args.only
    )
    probabilities = results.pop("probabilities")
    results["command"] = command.strip()
    results["training_data"] = {s.name: s.sha256 for s in load_many(names)}
    print(report(results))
    path = args.out or RESULTS / "loso.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({results['minutes']} min)")
    if args.save_probabilities:
        np.savez_compressed(path.with_suffix(".probabilities.npz"), **probabilities)


if __name__ == "__main__":
    main()
