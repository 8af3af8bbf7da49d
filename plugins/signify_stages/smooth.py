"""``smooth``: average the last N probability vectors so the letter does not flicker.

``mean`` weighs the last ``window`` frames equally (the old service's
``SLIDING_WINDOW_SIZE``, see ``docs/MIGRATING.md``);
``ema`` decays older frames by ``alpha`` (default 2 / (window + 1),
the EMA with the same centre of mass). When the hand has been gone for ``clear_after``
frames the history is dropped — an old hand must not colour a new one — and a reset drops
it at once.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from signify_graph import (
    Control,
    FrameContext,
    Kind,
    Params,
    Port,
    Probabilities,
    Stage,
    StageRegistry,
    StageSession,
    hookimpl,
)


class SmoothParams(Params):
    window: int = Field(5, ge=1, le=120)
    """Number of probability vectors to average (the old ``SLIDING_WINDOW_SIZE``)."""
    method: Literal["mean", "ema"] = "mean"
    """``mean``: equal weights over the window; ``ema``: exponential decay by ``alpha``."""
    alpha: float | None = Field(None, gt=0.0, le=1.0)
    """Weight of the newest frame for ``ema``; default 2 / (window + 1)."""
    clear_after: int = Field(3, ge=1, le=1000)
    """Frames without a hand after which the history is cleared."""


class SmoothStage(Stage):
    """Smooth probabilities over the last N frames (``mean`` or ``ema``).

    Outputs ``None`` while no hand is seen; clears after ``clear_after`` hand-less frames
    and on reset.
    """

    name = "smooth"
    params_model = SmoothParams
    inputs: ClassVar = {"probabilities": Port(Kind.PROBABILITIES)}
    output = Kind.PROBABILITIES
    inline_safe = True

    def open(self, session_id: str) -> StageSession:
        return _SmoothSession(self.params)


class _SmoothSession(StageSession):
    def __init__(self, params: SmoothParams) -> None:
        self._size = params.window
        self._ema = params.method == "ema"
        self._alpha = params.alpha if params.alpha is not None else 2.0 / (params.window + 1)
        self._clear_after = params.clear_after
        self._history: np.ndarray[Any, np.dtype[np.float32]] | None = None
        self._count = 0
        self._next = 0
        self._missing = 0

    def process(self, frame: FrameContext, probs: Probabilities | None) -> Probabilities | None:
        if probs is None:
            self._missing += 1
            if self._missing >= self._clear_after:
                self._count = 0
            return None
        self._missing = 0
        values = probs.values
        if self._ema:
            if self._count == 0 or self._history is None:
                self._history = values.astype(np.float32, copy=True)
            else:
                self._history += self._alpha * (values - self._history)
            self._count = min(self._count + 1, self._size)
            return Probabilities(self._history.copy(), probs.labels, self._count)
        if self._history is None or self._history.shape[1] != values.shape[0]:
            self._history = np.zeros((self._size, values.shape[0]), np.float32)
            self._count = 0
        if self._count == 0:  # cleared: forget every old row, not just the count
            self._history[:] = 0.0
            self._next = 0
        self._history[self._next] = values
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)
        mean = self._history.sum(axis=0) / np.float32(self._count)
        return Probabilities(mean, probs.labels, self._count)

    def reset(self, control: Control) -> None:
        self._count = 0
        self._missing = 0


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(SmoothStage)
