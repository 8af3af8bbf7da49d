"""How each source forms each letter: which fingers are extended and where the hand points.

Leave-one-source-out fails on whole letters at once (boris's P, nejohnson's X, roboflow's G),
whatever the recipe. This prints the evidence for why: for those letters the training
sources do not agree on the handshape, so a model trained on two of them cannot know the
third's. ``python -m training.profiles [LETTER ...]`` prints, per letter and source, the
median over its hands of

* each finger's **extension**: fingertip-to-wrist over knuckle-to-wrist distance (≈ 2 for a
  straight finger, < 1 for one curled into the palm);
* the **pointing** angle of the hand in the image (wrist → middle knuckle): 0° up, 90°
  sideways, 180° down;

and marks with ``≠`` the letters where two sources differ on a finger (one ≥ 1.5, another
< 1.1) or on the pointing angle by more than 60°.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import numpy.typing as npt

from .augment import features
from .data import TRAIN_SOURCES, Source, load_many

_FINGERS = {"index": (5, 8), "middle": (9, 12), "ring": (13, 16), "pinky": (17, 20)}


def profile(source: Source, letter: str) -> dict[str, float] | None:
    """Median finger extensions and pointing angle of ``letter`` in ``source`` (None: absent)."""
    rows = source.y == letter
    if not rows.any():
        return None
    hands = features(source.X[rows], source.aspect[rows]).reshape(-1, 21, 3)
    result = {
        name: float(np.median(_length(hands[:, tip]) / _length(hands[:, knuckle])))
        for name, (knuckle, tip) in _FINGERS.items()
    }
    direction = hands[:, 9, :2]  # image x, y (y grows downwards)
    result["pointing"] = float(
        np.median(np.degrees(np.arctan2(np.abs(direction[:, 0]), -direction[:, 1])))
    )
    return result


def _length(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    result: npt.NDArray[np.float32] = np.linalg.norm(v, axis=-1)
    return result


def disagree(profiles: list[dict[str, float]]) -> bool:
    """Two sources form the letter differently: a finger straight in one, curled in another,
    or the hand pointing in directions more than 60° apart."""
    for name in _FINGERS:
        values = [p[name] for p in profiles]
        if max(values) >= 1.5 and min(values) < 1.1:
            return True
    angles = [p["pointing"] for p in profiles]
    return max(angles) - min(angles) > 60.0


def differing_letters(sources: list[Source]) -> list[str]:
    """The letters that two of ``sources`` form differently (see :func:`disagree`)."""
    letters = sorted(set().union(*(set(s.y.tolist()) for s in sources)))
    return [
        letter
        for letter in letters
        if disagree([p for s in sources if (p := profile(s, letter)) is not None])
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("letters", nargs="*", help="letters to show (default: all)")
    args = parser.parse_args(argv)
    sources = load_many(TRAIN_SOURCES)
    letters = args.letters or sorted(set().union(*(set(s.y.tolist()) for s in sources)))
    header = f"{'':3}{'source':<16}" + "".join(f"{n:>8}" for n in _FINGERS) + f"{'pointing':>10}"
    print(header)
    for letter in letters:
        rows: list[tuple[str, dict[str, Any]]] = []
        for source in sources:
            found = profile(source, letter)
            if found is not None:
                rows.append((source.name, found))
        mark = "≠" if disagree([p for _, p in rows]) else " "
        for i, (name, p) in enumerate(rows):
            lead = f"{letter} {mark}" if i == 0 else "   "
            cells = "".join(f"{p[n]:>8.2f}" for n in _FINGERS)
            print(f"{lead:<3}{name:<16}{cells}{p['pointing']:>9.0f}°")
    print(f"\nsources differ on the handshape of: {' '.join(differing_letters(sources)) or 'none'}")


if __name__ == "__main__":
    main()
