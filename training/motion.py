"""Is the motion of J and Z in the data? The evidence behind the motion-letter figures.

J is an I whose little finger draws a hook; Z is a D-like index finger that traces a Z in the
air. A window model can only learn them from motion if the training runs hold that motion, and
can only be judged on it if the held-out runs do. ``python -m training.motion`` prints, for each
source recorded as consecutive frames, the fingertip's movement within the letter's run beside
the still letter of the same shape (I for J, D for Z):

* **step**: median and 90th percentile of the fingertip's move from one frame to the next, in
  palm sizes (image plane, x scaled by the aspect), the wrist's own move included — a traced Z
  moves the whole hand;
* **extent**: the spread of the fingertip over the run (the 5th-to-95th percentile box's
  diagonal), in palm sizes: how big a shape the tip drew.

A moving letter whose figures match its still twin's was recorded held, not signed.
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

from .data import Source, load

#: Sources whose rows are consecutive frames of one run per letter (checked: neighbouring rows
#: differ far less than random pairs of the same letter).
RUN_SOURCES = ("boris", "lm_AnnuMaryMahesh", "lm_Rhys12-Tran")
#: Each motion letter, its still twin of the same handshape, and the fingertip that moves.
PAIRS = {"J": ("I", 20), "Z": ("D", 8)}


def tip_path(source: Source, letter: str, tip: int) -> npt.NDArray[np.float64]:
    """The fingertip's image positions over ``letter``'s run, in palm sizes (x by the aspect)."""
    rows = np.flatnonzero(source.y == letter)
    rows = rows[np.argsort(source.order[rows], kind="stable")]
    hands = source.X[rows, :, :2].astype(np.float64)
    hands[:, :, 0] *= source.aspect[rows, None]
    palm = np.linalg.norm(hands[:, 9] - hands[:, 0], axis=1)
    scaled: npt.NDArray[np.float64] = hands[:, tip] / np.median(palm)
    return scaled


def movement(path: npt.NDArray[np.float64]) -> dict[str, float]:
    """Step (median, p90) and extent of one fingertip path; see the module docstring."""
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    low, high = np.percentile(path, [5, 95], axis=0)
    return {
        "frames": float(len(path)),
        "step_p50": float(np.median(steps)),
        "step_p90": float(np.percentile(steps, 90)),
        "extent": float(np.linalg.norm(high - low)),
    }


def table(sources: tuple[str, ...] = RUN_SOURCES) -> str:
    """The markdown table of every run source's motion letters beside their still twins."""
    lines = [
        "| source | letter | frames | step p50 | step p90 | extent |",
        "|---|---|---|---|---|---|",
    ]
    for name in sources:
        source = load(name)
        for moving, (still, tip) in PAIRS.items():
            for letter in (moving, still):
                if not (source.y == letter).any():
                    continue
                m = movement(tip_path(source, letter, tip))
                lines.append(
                    f"| `{name}` | {letter} | {m['frames']:.0f} | {m['step_p50']:.3f} "
                    f"| {m['step_p90']:.3f} | {m['extent']:.2f} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", nargs="*", default=list(RUN_SOURCES))
    args = parser.parse_args(argv)
    print(table(tuple(args.sources)))


if __name__ == "__main__":
    main()
