"""How each source forms each letter: which fingers are extended, where the hand points, where
the thumb is — beside how leave-one-source-out fared on that source and letter.

Leave-one-source-out fails on whole letters of a person at once (one signer's P, another's M),
whatever the recipe. This prints the evidence for why: on those letters the failing source forms
the handshape differently from the others, so a model trained on the others cannot know it.
``python -m training.profiles [LETTER ...] [--loso training/results/loso.json]`` prints, per
letter and source, the median over its hands of

* each finger's **extension**: fingertip-to-wrist over knuckle-to-wrist distance (≈ 2 for a
  straight finger, < 1 for one curled into the palm);
* the **pointing** angle of the hand in the image (wrist → middle knuckle): 0° up, 90°
  sideways, 180° down;
* the **thumb**: the finger whose middle joint the thumb tip is nearest (A, S, T, N, M differ
  by it), and its distance from the index knuckle in palm units (large: thumb out, as in A/L/Y);

and, with ``--loso``, the source's held-out accuracy on the letter and its commonest confusion,
sorted worst first. Rows marked ``≠`` differ from the letter's typical form (the median over
sources): a finger straight where most curl it (or the reverse), the hand pointing more than
60° away, or the thumb at another finger.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from signify_stages.normalize import N_SHAPE

from .augment import features
from .data import Source, all_training_sources, load_many

_FINGERS = {"index": (5, 8), "middle": (9, 12), "ring": (13, 16), "pinky": (17, 20)}
_MIDDLE_JOINTS = {"index": 6, "middle": 10, "ring": 14, "pinky": 18}


def profile(source: Source, letter: str) -> dict[str, Any] | None:
    """Median finger extensions, pointing angle and thumb place of ``letter`` in ``source``."""
    rows = source.y == letter
    if not rows.any():
        return None
    hands = features(source.X[rows], source.aspect[rows])[:, :N_SHAPE].reshape(-1, 21, 3)
    result: dict[str, Any] = {
        name: float(np.median(_length(hands[:, tip]) / _length(hands[:, knuckle])))
        for name, (knuckle, tip) in _FINGERS.items()
    }
    direction = hands[:, 9, :2]  # image x, y (y grows downwards)
    result["pointing"] = float(
        np.median(np.degrees(np.arctan2(np.abs(direction[:, 0]), -direction[:, 1])))
    )
    near = np.stack(
        [_length(hands[:, 4] - hands[:, joint]) for joint in _MIDDLE_JOINTS.values()], axis=1
    )
    result["thumb_at"] = Counter(near.argmin(axis=1).tolist()).most_common(1)[0][0]
    result["thumb_at"] = list(_MIDDLE_JOINTS)[result["thumb_at"]]
    result["thumb_out"] = float(np.median(_length(hands[:, 4] - hands[:, 5])))
    return result


def _length(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    result: npt.NDArray[np.float32] = np.linalg.norm(v, axis=-1)
    return result


def differs(p: dict[str, Any], typical: dict[str, Any]) -> bool:
    """``p`` forms the letter unlike ``typical``: a finger straight (≥ 1.5) where the typical
    form curls it (< 1.1) or the reverse, pointing 60° away, or the thumb at another finger."""
    for name in _FINGERS:
        a, b = p[name], typical[name]
        if (a >= 1.5 and b < 1.1) or (a < 1.1 and b >= 1.5):
            return True
    return abs(p["pointing"] - typical["pointing"]) > 60.0 or p["thumb_at"] != typical["thumb_at"]


def typical_form(profiles: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over sources of each measure, the commonest thumb place."""
    numeric = {k: float(np.median([p[k] for p in profiles])) for k in (*_FINGERS, "pointing")}
    numeric["thumb_out"] = float(np.median([p["thumb_out"] for p in profiles]))
    thumbs = Counter(p["thumb_at"] for p in profiles).most_common(1)[0][0]
    return {**numeric, "thumb_at": thumbs}


def differing_letters(sources: list[Source]) -> list[str]:
    """The letters that at least a quarter of ``sources`` form unlike the typical form."""
    letters = sorted(set().union(*(set(s.y.tolist()) for s in sources)))
    out = []
    for letter in letters:
        found = [p for s in sources if (p := profile(s, letter)) is not None]
        typical = typical_form(found)
        if sum(differs(p, typical) for p in found) * 4 >= len(found):
            out.append(letter)
    return out


def _loso_cell(loso: dict[str, Any] | None, source: str, letter: str) -> tuple[float, str]:
    if loso is None or source not in loso["sources"]:
        return float("nan"), ""
    entry = loso["sources"][source]
    accuracy = entry["per_letter"].get(letter, {}).get("accuracy", float("nan"))
    confusions = [k for k in entry["confusions"] if k.startswith(f"{letter}->")]
    return accuracy, confusions[0] if confusions else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("letters", nargs="*", help="letters to show (default: all)")
    parser.add_argument("--loso", type=Path, help="a results file of training.evaluate --loso")
    args = parser.parse_args(argv)
    sources = load_many(list(all_training_sources()))
    loso = json.loads(args.loso.read_text()) if args.loso else None
    letters = args.letters or sorted(set().union(*(set(s.y.tolist()) for s in sources)))
    header = (
        f"{'':3}{'source':<24}"
        + "".join(f"{n:>8}" for n in _FINGERS)
        + f"{'pointing':>10}{'thumb at':>10}{'out':>6}{'LOSO':>7}  confusion"
    )
    print(header)
    for letter in letters:
        rows = [(s.name, p) for s in sources if (p := profile(s, letter)) is not None]
        typical = typical_form([p for _, p in rows])
        cells = {name: _loso_cell(loso, name, letter) for name, _ in rows}
        rows.sort(key=lambda row: (cells[row[0]][0], row[0]))
        print(_line(f"{letter}", "(typical form)", typical, float("nan"), ""))
        for name, p in rows:
            mark = "≠" if differs(p, typical) else " "
            print(_line(f" {mark}", name, p, *cells[name]))
    print(
        f"\nletters a quarter of the sources form otherwise: {' '.join(differing_letters(sources))}"
    )


def _line(lead: str, name: str, p: dict[str, Any], accuracy: float, confusion: str) -> str:
    cells = "".join(f"{p[n]:>8.2f}" for n in _FINGERS)
    score = f"{accuracy:>7.0%}" if accuracy == accuracy else f"{'':>7}"
    return (
        f"{lead:<3}{name:<24}{cells}{p['pointing']:>9.0f}°{p['thumb_at']:>10}"
        f"{p['thumb_out']:>6.2f}{score}  {confusion}"
    )


if __name__ == "__main__":
    main()
