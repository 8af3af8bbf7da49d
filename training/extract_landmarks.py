"""Extract hand landmarks from the Roboflow letter photos with the project's own stages.

The photos go through ``training/extract.yaml`` (decode → hands, image mode, full bundle,
25 % border) via the engine's public API, so the training landmarks are exactly what the
server computes for such a photo. One ``.npz`` per split is written to ``training/data/``:

* ``X`` (N, 21, 3) float32 raw image-normalised landmarks of the detected hands,
* ``aspect`` (N,) width / height, ``y`` (N,) letters, ``files`` (N,) paths relative to the
  data set, ``group`` (N,) the original photo (Roboflow's train split holds three augmented
  versions of each: keep them together), ``handedness`` and ``score``;
* ``missed_files`` / ``missed_letters``: photos where no hand was found (not in ``X``);
* ``bundle_sha256``, ``pipeline``, ``source`` and ``licence``: provenance.

Usage: ``python -m training.extract_landmarks [--images DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from signify_graph import Hand, build_graph, create_host, plan_pipeline

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGES = Path("/work/shared/data/images/roboflow_asl_letters")
SOURCE = (
    "American Sign Language Letters v1 by David Lee (Roboflow export, 2020), copy in "
    "dnth/yolov5-deepsparse-blogpost@f467abc4 datasets/american_sign_language/"
)
LICENCE = "Public Domain"


def original_photo(name: str) -> str:
    """``A12_jpg.rf.<hash>.jpg`` → ``A12``: Roboflow's augmented copies share this stem."""
    return name.split("_jpg.rf.")[0]


def extract_split(images: Path, split: str, pipeline: Path, out_dir: Path) -> Path:
    host = create_host()
    plan = plan_pipeline(pipeline, host.registry)
    graph = build_graph(plan, host)
    hands_index = graph.node_ids.index("hands")
    bundle = graph.stages["hands"].bundle_path  # type: ignore[attr-defined]
    bundle_sha = hashlib.sha256(Path(bundle).read_bytes()).hexdigest()
    files = sorted((images / split).glob("*/*.jpg"))
    rows: dict[str, list[object]] = {
        k: [] for k in ("X", "aspect", "y", "files", "group", "handedness", "score")
    }
    missed: list[str] = []
    started = time.time()
    with graph.open_session("extract") as session:
        for path in files:
            relative = path.relative_to(images).as_posix()
            result = session.process(path.read_bytes())
            if result.error is not None:
                raise RuntimeError(f"{relative}: {result.error}")
            hand = result.values[hands_index]
            if hand is None:
                missed.append(relative)
                continue
            assert isinstance(hand, Hand)
            rows["X"].append(np.asarray(hand.landmarks, np.float32))
            rows["aspect"].append(hand.aspect)
            rows["y"].append(path.parent.name)
            rows["files"].append(relative)
            rows["group"].append(original_photo(path.name))
            rows["handedness"].append(hand.handedness or "")
            rows["score"].append(hand.score)
    graph.close()
    out = out_dir / f"roboflow_{split}.npz"
    np.savez_compressed(
        out,
        X=np.stack(rows["X"]).astype(np.float32),
        aspect=np.array(rows["aspect"], np.float32),
        y=np.array(rows["y"]),
        files=np.array(rows["files"]),
        group=np.array(rows["group"]),
        handedness=np.array(rows["handedness"]),
        score=np.array(rows["score"], np.float32),
        missed_files=np.array(missed, dtype=str),
        missed_letters=np.array([m.split("/")[1] for m in missed], dtype=str),
        bundle_sha256=np.array(bundle_sha),
        pipeline=np.array(pipeline.read_text(encoding="utf-8")),
        source=np.array(SOURCE),
        licence=np.array(LICENCE),
    )
    found = len(rows["y"])
    print(
        f"{split}: {found}/{len(files)} photos with a hand ({found / len(files):.1%}), "
        f"{len(missed)} missed, {time.time() - started:.0f} s → {out} "
        f"(bundle {Path(bundle).name} sha256 {bundle_sha[:16]}…)"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images",
        type=Path,
        default=DEFAULT_IMAGES,
        help="folder holding train/ valid/ test/ with one folder per letter",
    )
    parser.add_argument("--pipeline", type=Path, default=HERE / "extract.yaml")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument("--splits", nargs="*", default=["train", "valid", "test"])
    args = parser.parse_args(argv)
    for split in args.splits:
        extract_split(args.images, split, args.pipeline, args.out)


if __name__ == "__main__":
    main()
