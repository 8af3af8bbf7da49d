"""Tiny stages for engine tests: plain Python on numbers, no models, registered as a plugin.

Register them with ``create_host(extra_plugins=[stages], entry_points=False)``. Kinds are only
checked while a pipeline is validated, so the values flowing at run time are plain numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from signify_graph import (
    Control,
    FrameContext,
    InputError,
    Kind,
    ModelFile,
    Params,
    Port,
    Probabilities,
    Stage,
    StageSession,
    hookimpl,
)


class ScaleParams(Params):
    factor: float = Field(1.0, gt=0.0, le=100.0)
    """Multiply each item by this."""
    label: str = "x"
    """A free-form label, to have a parameter of another type."""


class ScaleStage(Stage):
    """Multiply the raw item by ``factor``: the graph's entry (landmark message → features)."""

    name = "scale"
    params_model = ScaleParams
    inputs: ClassVar = {"message": Port(Kind.LANDMARK_MESSAGE)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, value: Any) -> Any:
        return value * self.params.factor


class CountParams(Params):
    start: int = Field(0, ge=0, le=1000)
    """The count after the first item is ``start + 1``."""


class CountStage(Stage):
    """Count the items of a session; a reset starts again from ``start``.

    Every reset and close is recorded on the stage, so tests can see who received what.
    """

    name = "count"
    params_model = CountParams
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def __init__(self, params: Any, context: Any) -> None:
        super().__init__(params, context)
        self.events: list[tuple[str, str, Any]] = []
        self.frames: list[FrameContext] = []

    def open(self, session_id: str) -> StageSession:
        return _CountSession(self, session_id)


class _CountSession(StageSession):
    def __init__(self, stage: CountStage, session_id: str) -> None:
        self._stage = stage
        self._session_id = session_id
        self._count = stage.params.start

    def process(self, frame: FrameContext, value: Any) -> int:
        self._stage.frames.append(frame)
        self._count += 1
        return self._count

    def reset(self, control: Control) -> None:
        self._count = self._stage.params.start
        self._stage.events.append(("reset", self._session_id, control.target))

    def close(self) -> None:
        self._stage.events.append(("close", self._session_id, None))


class FailStage(Stage):
    """Pass items on; refuse negative ones (``InputError``) and crash on 13."""

    name = "fail"
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, value: Any) -> Any:
        if value < 0:
            raise InputError(f"negative value {value}", code="negative_value")
        if value == 13:
            raise RuntimeError("unlucky number")
        return value


class AddStage(Stage):
    """Add ``left`` and ``right``, and ``bias`` when it is connected."""

    name = "add"
    inputs: ClassVar = {
        "left": Port(Kind.FEATURES),
        "right": Port(Kind.FEATURES),
        "bias": Port(Kind.FEATURES, optional=True),
    }
    output = Kind.FEATURES

    def process(self, frame: FrameContext, left: Any, right: Any, bias: Any = 0) -> Any:
        return left + right + bias


class ToProbsStage(Stage):
    """Turn a number p in [0, 1] into probabilities (p, 1 − p) over the letters A and B."""

    name = "to_probs"
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.PROBABILITIES

    def process(self, frame: FrameContext, value: Any) -> Probabilities:
        return Probabilities(np.array([value, 1.0 - value], np.float32), ("A", "B"))


class ReplyStage(Stage):
    """Reply with the top letter, or ``None`` when there are no probabilities."""

    name = "reply"
    inputs: ClassVar = {"probabilities": Port(Kind.PROBABILITIES)}
    output = Kind.REPLY

    def process(self, frame: FrameContext, probs: Probabilities | None) -> dict[str, Any] | None:
        if probs is None:
            return None
        letter, p = probs.top()
        return {"letter": letter, "p": round(p, 3)}


class ModelParams(Params):
    model: ModelFile
    """A model file, relative to the pipeline file."""


class ModelStage(Stage):
    """Pass items on; needs a model file that exists."""

    name = "model_reader"
    params_model = ModelParams
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, value: Any) -> Any:
        return value


class WindowParams(Params):
    size: int = Field(3, ge=1, le=10)
    """Items in the window."""
    method: Literal["mean", "max"] = "mean"
    """How to combine them."""


class WindowedParams(Params):
    window: WindowParams = WindowParams()
    """The window, a nested group of parameters."""


class WindowedStage(Stage):
    """Pass items on; has nested parameters."""

    name = "windowed"
    params_model = WindowedParams
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, value: Any) -> Any:
        return value


class ThresholdParams(Params):
    threshold: float = Field(ge=0.0, le=1.0)
    """Required: the level items are compared with."""


class ThresholdStage(Stage):
    """Pass items at or above ``threshold``, else ``None``; the threshold is required."""

    name = "threshold"
    params_model = ThresholdParams
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, value: Any) -> Any:
        return value if value >= self.params.threshold else None


STAGES = (
    ScaleStage,
    CountStage,
    FailStage,
    AddStage,
    ToProbsStage,
    ReplyStage,
    ModelStage,
    WindowedStage,
    ThresholdStage,
)


@hookimpl
def signify_register_stages(registry: Any) -> None:
    for stage in STAGES:
        registry.add(stage)
