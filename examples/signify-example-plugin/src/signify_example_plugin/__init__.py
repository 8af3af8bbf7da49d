"""``confidence_gate``: pass a prediction on only when the model is sure enough.

A stage plugin for signify-graph, written as a worked example: one stage class, its
parameters as a pydantic model, per-session state, and the hook that registers it.
"""

from __future__ import annotations

from typing import ClassVar

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

__all__ = ["ConfidenceGateParams", "ConfidenceGateStage"]


class ConfidenceGateParams(Params):
    # Subclassing signify_graph.Params makes unknown keys an error and values immutable.
    # The docstring under each field is its documentation: `signify-graph stages`, the JSON
    # Schema and the contract check all read it.
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    """Lowest top probability that is passed on; below it the stage outputs ``None``."""
    hold: int = Field(0, ge=0, le=100)
    """After a confident frame, keep passing up to this many less confident ones (hysteresis
    against flicker around the threshold). 0 = judge every frame on its own."""


class ConfidenceGateStage(Stage):
    """Pass probabilities on only when the top one reaches ``threshold``, else ``None``.

    ``None`` in (no hand) gives ``None`` out. With ``hold`` > 0 a confident frame also lets the
    next ``hold`` frames through; a reset or a hand-less frame ends that.
    """

    name = "confidence_gate"
    params_model = ConfidenceGateParams
    inputs: ClassVar = {"probabilities": Port(Kind.PROBABILITIES)}
    output = Kind.PROBABILITIES

    # __init__ (inherited) runs once per graph: the place to load shared, read-only things.
    # This stage needs none. open() runs once per client session and returns its state.
    def open(self, session_id: str) -> StageSession:
        return _GateSession(self.params)


class _GateSession(StageSession):
    """One session's state: how many more unsure frames the gate still lets through."""

    def __init__(self, params: ConfidenceGateParams) -> None:
        self._threshold = params.threshold
        self._hold = params.hold
        self._credit = 0

    def process(self, frame: FrameContext, probs: Probabilities | None) -> Probabilities | None:
        if probs is None:
            self._credit = 0
            return None
        _, top = probs.top()
        if top >= self._threshold:
            self._credit = self._hold
            return probs
        if self._credit > 0:
            self._credit -= 1
            return probs
        return None

    def reset(self, control: Control) -> None:
        self._credit = 0


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    """Called once by signify-graph at start-up: add this plugin's stages."""
    registry.add(ConfidenceGateStage)
