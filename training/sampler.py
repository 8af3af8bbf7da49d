"""Draw training batches: windows of raw hands, balanced by letter and by person.

A person is the unit, not a frame: boris holds 10,508 near-duplicate video frames of one signer,
a dozen sources hold a few hundred photos of three letters. So a batch is drawn in three steps:
a letter uniformly, then one of the sources that hold that letter, weighted by the people in it
(``people ** person_power``; 0 weighs every source alike), then a row of that letter in that
source. Every letter is seen equally often, and within a letter every person counts alike; a
big source adds variety to its cells but no weight.

Sources whose rows are runs of consecutive video frames (``order`` non-zero) give, for part of
their windows, real consecutive frames (stride 1–3) instead of one frame repeated.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .augment import AugmentConfig, augment_windows, features
from .data import Source


class Sampler:
    """Random feature windows (B, T, N_FEATURES) and label indices (B,) from ``sources``."""

    def __init__(
        self,
        sources: list[Source],
        labels: list[str],
        window: int,
        cfg: AugmentConfig,
        rng: np.random.Generator,
        real_windows: float = 0.5,
        person_power: float = 1.0,
    ):
        self.window = window
        self.cfg = cfg
        self.rng = rng
        self.real_windows = real_windows
        self.X = np.concatenate([s.X for s in sources])
        self.aspect = np.concatenate([s.aspect for s in sources])
        self.has_z = np.concatenate([np.full(len(s), s.has_z) for s in sources])
        index = {label: i for i, label in enumerate(labels)}
        self.target = np.array([index[v] for s in sources for v in s.y], np.int64)
        self.previous = _previous_frames(sources)
        # Cells (letter, source) in letter order: their rows, and per letter the cumulative
        # weights of its cells shifted by the letter's index, for one searchsorted per batch.
        starts = np.cumsum([0, *(len(s) for s in sources)])
        cell_rows, cell_start, cell_size, bounds = [], [], [], []
        self.letters: list[int] = []
        for k, label in enumerate(labels):
            rows = [
                start + np.flatnonzero(s.y == label)
                for s, start in zip(sources, starts, strict=False)
                if (s.y == label).any()
            ]
            if not rows:
                continue
            self.letters.append(k)
            people = np.array([s.people_count for s in sources if (s.y == label).any()], np.float64)
            weights = np.cumsum(people**person_power) / (people**person_power).sum()
            weights[-1] = 1.0
            bounds.append(k + weights)
            for r in rows:
                cell_start.append(sum(len(c) for c in cell_rows))
                cell_size.append(len(r))
                cell_rows.append(r)
        self.cell_rows = np.concatenate(cell_rows)
        self.cell_start = np.array(cell_start, np.int64)
        self.cell_size = np.array(cell_size, np.int64)
        self.bounds = np.concatenate(bounds)

    def rows(self, size: int) -> npt.NDArray[np.int64]:
        """Row indices of one batch: a letter, then a source holding it, then a row."""
        rng = self.rng
        letters = rng.choice(self.letters, size)
        cell = np.searchsorted(self.bounds, letters + rng.random(size), side="right")
        offset = (rng.random(size) * self.cell_size[cell]).astype(np.int64)
        rows: npt.NDArray[np.int64] = self.cell_rows[self.cell_start[cell] + offset]
        return rows

    def batch(self, size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        rng, T = self.rng, self.window
        rows = self.rows(size)
        frames = np.repeat(rows[:, None], T, axis=1)
        if T > 1 and self.real_windows:
            real = (rng.random(size) < self.real_windows) & (self.previous[rows] != rows)
            stride = rng.integers(1, 4, size)
            for t in range(T - 2, -1, -1):
                step = frames[:, t + 1]
                for hop in range(3):
                    step = np.where(stride > hop, self.previous[step], step)
                frames[:, t] = np.where(real, step, frames[:, t])
        raw, aspect = augment_windows(
            self.X[frames], self.aspect[rows], self.cfg, rng, self.has_z[rows]
        )
        return features(raw, aspect), self.target[rows]


def _previous_frames(sources: list[Source]) -> npt.NDArray[np.int64]:
    """For each row of the concatenated sources, the previous frame of its run (or itself)."""
    parts, start = [], 0
    for source in sources:
        prev = np.arange(len(source))
        if source.order.any():
            order = np.lexsort((source.order, source.run))
            same = source.run[order][1:] == source.run[order][:-1]
            prev[order[1:][same]] = order[:-1][same]
        parts.append(prev + start)
        start += len(source)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
