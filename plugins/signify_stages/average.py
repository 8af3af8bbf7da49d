"""``average``: one probability vector from two — two views of a frame, or two models.

Its use here is mirror symmetry. MediaPipe finds slightly different hands in a frame and in
its mirror image, so a pipeline that reads one view can name a different letter for a
selfie-view client than for an unmirrored one. Classifying both views (a second ``hands``
node with ``view: mirrored``) and averaging makes the answer the same for both, by construction:
mirroring the frame only swaps which port each view arrives on. ``pipelines/symmetric.yaml``
is that graph.

A view without a hand does not count: the other view's probabilities pass through, so the
pair detects a hand whenever either view does.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from signify_graph import (
    FrameContext,
    Kind,
    Params,
    Port,
    Probabilities,
    Stage,
    StageError,
    StageRegistry,
    hookimpl,
)


class AverageParams(Params):
    weight: float = Field(0.5, ge=0.0, le=1.0)
    """Weight of ``probabilities``; ``other`` gets 1 − weight. 0.5 keeps the two symmetric."""


class AverageStage(Stage):
    """Average two probability vectors over the same labels; a missing one is left out."""

    name = "average"
    params_model = AverageParams
    inputs: ClassVar = {
        "probabilities": Port(Kind.PROBABILITIES),
        "other": Port(Kind.PROBABILITIES),
    }
    output = Kind.PROBABILITIES
    inline_safe = True

    def process(
        self, frame: FrameContext, probabilities: Probabilities | None, other: Probabilities | None
    ) -> Probabilities | None:
        if probabilities is None or other is None:
            return probabilities if other is None else other
        if probabilities.labels != other.labels:
            raise StageError(
                "average: the two inputs name different labels "
                f"({len(probabilities.labels)} vs {len(other.labels)}); use classifiers "
                "trained on the same letters",
                code="label_mismatch",
            )
        weight = np.float32(self.params.weight)
        values = weight * probabilities.values + (np.float32(1.0) - weight) * other.values
        return Probabilities(
            values.astype(np.float32), probabilities.labels, max(probabilities.frames, other.frames)
        )


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(AverageStage)
