"""Draw training batches: windows of raw hands from several sources, balanced by source.

Each source counts as one "signer population" whatever its size (boris has ten times more
rows than nejohnson, but they are near-duplicate video frames of one person), so a batch
draws its sources uniformly and a row uniformly within the chosen source.

Boris's letters are runs of consecutive video frames; for part of its windows we take real
consecutive frames (stride 1–3) instead of repeating one frame, for real frame-to-frame motion.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .augment import AugmentConfig, augment_windows, features
from .data import Source


class Sampler:
    """Random feature windows (B, T, 63) and label indices (B,) from ``sources``."""

    def __init__(
        self,
        sources: list[Source],
        labels: list[str],
        window: int,
        cfg: AugmentConfig,
        rng: np.random.Generator,
        real_windows: float = 0.5,
    ):
        self.sources = sources
        self.window = window
        self.cfg = cfg
        self.rng = rng
        self.real_windows = real_windows
        index = {label: i for i, label in enumerate(labels)}
        self.targets = [np.array([index[v] for v in s.y], np.int64) for s in sources]
        self.previous = [_previous_frames(s) for s in sources]

    def batch(self, size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        rng, T = self.rng, self.window
        which = rng.integers(0, len(self.sources), size)
        raws, aspects, targets = [], [], []
        for k, source in enumerate(self.sources):
            count = int((which == k).sum())
            if not count:
                continue
            rows = rng.integers(0, len(source), count)
            frames = np.repeat(rows[:, None], T, axis=1)
            prev = self.previous[k]
            if prev is not None and T > 1:
                real = rng.random(count) < self.real_windows
                stride = rng.integers(1, 4, count)
                for t in range(T - 2, -1, -1):
                    step = frames[:, t + 1]
                    for hop in range(3):
                        step = np.where(stride > hop, prev[step], step)
                    frames[:, t] = np.where(real, step, frames[:, t])
            raws.append(source.X[frames])
            aspects.append(source.aspect[rows])
            targets.append(self.targets[k][rows])
        raw = np.concatenate(raws)
        aspect = np.concatenate(aspects)
        target = np.concatenate(targets)
        order = rng.permutation(len(target))
        raw, aspect, target = raw[order], aspect[order], target[order]
        raw, aspect = augment_windows(raw, aspect, self.cfg, rng)
        return features(raw, aspect), target


def _previous_frames(source: Source) -> npt.NDArray[np.int64] | None:
    """Index of the previous frame of the same run (itself at a run's start), or None."""
    if not source.order.any():
        return None
    prev = np.arange(len(source))
    order = np.lexsort((source.order, source.run))
    same = source.run[order][1:] == source.run[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev
