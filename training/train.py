"""Train the letter classifier on every source and export it.

``python -m training.train`` trains on every training source (the repository's boris,
nejohnson and roboflow_train, and the 43 of ``../shared/data/signers``) with the shipped
settings, exports ``models/classifier.onnx`` and evaluates it (with onnxruntime) on
roboflow_valid and, once, roboflow_test. ``--no-test`` (for choosing settings) never touches
roboflow_test and writes no model unless ``--out`` is given. The honest estimate for a new
signer is leave-one-source-out: ``python -m training.evaluate --loso`` (:mod:`training.loso`).

Runs are seeded and single-threaded, so the same command gives the same model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from signify_stages.normalize import CONTRACT
from torch import nn

from .augment import AugmentConfig
from .data import Source, all_training_sources, load, load_many
from .evaluate import OnnxClassifier, evaluate_sources, score, static_features
from .model import Averaged, LetterLSTM, export_onnx, predict
from .sampler import Sampler

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "training" / "results"


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; the defaults are the shipped model's (chosen on roboflow_valid)."""

    window: int = 8
    hidden: int = 128
    embed: int = 128
    dropout: float = 0.2
    steps: int = 1500
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    real_windows: float = 0.5
    layers: int = 1
    derived: bool = False
    members: int = 1
    person_power: float = 1.0
    seed: int = 0


def set_determinism(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def fit(
    sources: list[Source],
    labels: list[str],
    cfg: TrainConfig,
    aug: AugmentConfig,
    valid: Source | None = None,
    eval_every: int = 500,
    quiet: bool = False,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train ``cfg.members`` fresh networks (seeds ``seed``, ``seed`` + 1000, …) on
    ``sources``; several are averaged into one (:class:`~training.model.Averaged`)."""
    nets, history = [], []
    for member in range(cfg.members):
        member_cfg = replace(cfg, seed=cfg.seed + 1000 * member)
        net, trace = fit_one(sources, labels, member_cfg, aug, valid, eval_every, quiet)
        nets.append(net)
        history += [{"member": member, **entry} for entry in trace]
    return (nets[0] if len(nets) == 1 else Averaged(nets).eval()), history


def fit_one(
    sources: list[Source],
    labels: list[str],
    cfg: TrainConfig,
    aug: AugmentConfig,
    valid: Source | None = None,
    eval_every: int = 500,
    quiet: bool = False,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train a fresh network on ``sources``; print validation accuracy every ``eval_every``."""
    set_determinism(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = LetterLSTM(len(labels), cfg.hidden, cfg.embed, cfg.dropout, cfg.layers, cfg.derived)
    sampler = Sampler(sources, labels, cfg.window, aug, rng, cfg.real_windows, cfg.person_power)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, cfg.lr, total_steps=cfg.steps, pct_start=0.1
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    valid_x = static_features(valid, cfg.window) if valid is not None else None
    history: list[dict[str, Any]] = []
    started, running = time.time(), 0.0
    for step in range(1, cfg.steps + 1):
        net.train()
        x, y = sampler.batch(cfg.batch)
        loss = loss_fn(net(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running += float(loss.detach())
        if step % eval_every == 0 or step == cfg.steps:
            entry: dict[str, Any] = {"step": step, "loss": round(running / eval_every, 4)}
            if valid is not None and valid_x is not None:
                entry["valid"] = score(predict(net, valid_x), valid.y, labels)["accuracy"]
            entry["seconds"] = round(time.time() - started, 1)
            history.append(entry)
            if not quiet:
                print("   ", entry, flush=True)
            running = 0.0
    return net.eval(), history


def labels_of(sources: list[Source]) -> list[str]:
    """The label set is read from the data (A–Z here), never hard-coded."""
    return sorted(set().union(*(set(s.y.tolist()) for s in sources)))


def where(source: Source) -> str:
    """A source's file relative to the repository (``../shared/…`` for the signers)."""
    return os.path.relpath(source.path, ROOT)


def provenance(sources: list[Source]) -> dict[str, str]:
    """Every file the model learnt from (or was chosen with) → its sha256."""
    return {where(s): s.sha256 for s in sources}


def print_sources(sources: list[Source]) -> None:
    print("data:")
    for source in sources:
        print("  " + source.describe())
        print(f"    file {where(source)} sha256 {source.sha256}")


def run_final(
    cfg: TrainConfig,
    aug: AugmentConfig,
    out: Path | None,
    test: bool,
    command: str,
    names: list[str],
) -> dict[str, Any]:
    """Train on ``names`` (every source), export, evaluate the file with onnxruntime."""
    sources = load_many(names)
    valid = load("roboflow_valid")
    print_sources([*sources, valid])
    labels = labels_of(sources)
    net, history = fit(sources, labels, cfg, aug, valid=valid)
    scratch = Path(tempfile.mkdtemp(prefix="signify-train-")) / "scratch.onnx"
    metadata: dict[str, Any] = {
        "labels": labels,
        "normalization": CONTRACT,
        "window": str(cfg.window),
        "training_data": provenance(sources),
        "selection_data": provenance([valid]),
        "created_by": command,
        "framework": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
        },
        "train_config": asdict(cfg),
        "augment": asdict(aug),
    }
    export_onnx(net, scratch, cfg.window, metadata)
    evaluated = [valid]
    if test:
        evaluated.append(load("roboflow_test"))
        print("  " + evaluated[-1].describe())
    metrics: dict[str, Any] = {
        "history": history,
        **evaluate_sources(OnnxClassifier(scratch), evaluated),
    }
    scratch.unlink()
    scratch.parent.rmdir()
    loso_file = RESULTS / "loso.json"
    headline: dict[str, Any] = {
        k: {"n": v["n"], "accuracy": v["accuracy"]}
        for k, v in metrics.items()
        if isinstance(v, dict) and "n" in v
    }
    if loso_file.is_file():
        loso = json.loads(loso_file.read_text())
        if "summary" in loso:  # the leave-one-source-out run of this recipe
            summary = loso["summary"]
            headline["loso"] = {
                "command": loso["command"],
                **{k: summary[k] for k in ("sources", "mean", "median", "worst_five")},
                "per_source": {k: v["accuracy"] for k, v in loso["sources"].items()},
            }
    metadata["metrics"] = headline
    if out is not None:
        export_onnx(net, out, cfg.window, metadata)
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return {"metadata": metadata, "metrics": metrics}


def parse_settings(
    settings: list[str], augment: list[str], *, no_augment: bool = False
) -> tuple[TrainConfig, AugmentConfig]:
    """``FIELD=VALUE`` overrides (values as JSON) of the shipped training and augmentation."""
    cfg, aug = TrainConfig(), AugmentConfig.off() if no_augment else AugmentConfig()
    for item in settings:
        name, _, value = item.partition("=")
        cfg = replace(cfg, **{name: json.loads(value)})
    for item in augment:
        name, _, value = item.partition("=")
        aug = replace(aug, **{name: json.loads(value)})
    return cfg, aug


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """``--set`` and ``--aug``: the overrides :func:`parse_settings` reads (train and LOSO)."""
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="training settings (TrainConfig), e.g. steps=2000 hidden=96",
    )
    parser.add_argument(
        "--aug",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="augmentation settings (AugmentConfig), e.g. yaw_deg=30 z_drop=0.3",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-test", action="store_true", help="never evaluate roboflow_test")
    parser.add_argument("--out", type=Path, help="model path (default models/classifier.onnx)")
    parser.add_argument("--results", type=Path, help="results JSON (default training/results/…)")
    parser.add_argument("--no-augment", action="store_true", help="ablation: no augmentation")
    add_setting_options(parser)
    parser.add_argument("--sources", nargs="*", help="training sources (default: every one)")
    args = parser.parse_args(argv)
    cfg, aug = parse_settings(args.set, args.aug, no_augment=args.no_augment)
    command = "python -m training.train " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"command: {command.strip()}\nconfig: {asdict(cfg)}\naugment: {asdict(aug)}")
    names = args.sources or list(all_training_sources())
    out = args.out if args.out else (None if args.no_test else ROOT / "models/classifier.onnx")
    results = run_final(cfg, aug, out, not args.no_test, command.strip(), names)
    path = args.results or RESULTS / ("final.json" if not args.no_test else "selection.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
