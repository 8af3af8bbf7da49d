"""``classify``: an ONNX model over the window of the last T feature vectors.

Everything the stage needs to know about the model is read from the model itself: the
labels and their order, the window T and the normalisation it was trained with (ONNX
metadata ``labels``, ``window``, ``normalization``). Nothing is hard-coded, so a retrained
model with other letters drops in by changing one path — and a model trained on other
features is refused while the graph is built, not discovered by users as nonsense letters.

One ``InferenceSession`` serves every session (it is thread-safe) with one intra-op thread:
ORT's default thread pool fights the server's own workers and pushes p90 to several ms.
A missing or corrupt model is a validation error; there is no fallback and no mock.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from signify_graph import (
    Control,
    Features,
    FrameContext,
    Kind,
    LoadContext,
    ModelFile,
    Params,
    Port,
    Probabilities,
    Stage,
    StageConfigError,
    StageRegistry,
    StageSession,
    hookimpl,
)

log = logging.getLogger(__name__)


class ClassifyParams(Params):
    model: ModelFile = Field(Path("builtin:classifier.onnx"), validate_default=True)
    """The ONNX classifier: a path relative to the pipeline file, or ``builtin:NAME`` for a
    model shipped in the package (``builtin:classifier.onnx``, the default)."""


def _metadata(meta: Mapping[str, str], key: str) -> str:
    if key not in meta:
        raise StageConfigError(f"the model's ONNX metadata lacks '{key}'", param="model")
    return meta[key]


class ClassifyStage(Stage):
    """Classify the window of the last T normalised frames into letter probabilities.

    T, the labels and the required normalisation come from the model's metadata. Frames
    before the window fills are padded with the earliest frame, as in training.
    """

    name = "classify"
    params_model = ClassifyParams
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.PROBABILITIES
    inline_safe = True

    def __init__(self, params: ClassifyParams, context: LoadContext) -> None:
        super().__init__(params, context)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(params.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise StageConfigError(
                f"cannot load ONNX model '{params.model}': {str(exc).splitlines()[0]}",
                param="model",
            ) from exc
        self.sha256 = hashlib.sha256(params.model.read_bytes()).hexdigest()
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            labels = json.loads(_metadata(meta, "labels"))
            self.window = int(_metadata(meta, "window"))
        except (ValueError, TypeError) as exc:
            raise StageConfigError(
                f"the model's metadata is malformed: {exc}", param="model"
            ) from exc
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
            raise StageConfigError(
                "the model's 'labels' metadata must be a list of strings", param="model"
            )
        self._labels: tuple[str, ...] = tuple(labels)
        self.normalization = _metadata(meta, "normalization")
        self.metadata = dict(meta)
        (model_input,) = self.session.get_inputs()
        self.input_name = model_input.name
        self.n_features = int(model_input.shape[-1])
        if self.window < 1:
            raise StageConfigError("the model's window must be at least 1", param="model")
        # Run once: proves the model executes, and warms ORT's allocations up.
        log.info("Loaded ONNX model from %s", params.model)
        log.info("Input: %s %s", self.input_name, model_input.shape)
        for output in self.session.get_outputs():
            log.info("Output: %s %s (labels %s)", output.name, output.shape, "".join(labels))
        probe = self.session.run(
            None, {self.input_name: np.zeros((1, self.window, self.n_features), np.float32)}
        )
        if probe[0].shape != (1, len(self.labels)):
            raise StageConfigError(
                f"the model outputs shape {probe[0].shape} but names {len(self.labels)} labels",
                param="model",
            )

    @property
    def labels(self) -> tuple[str, ...]:
        """The model's labels, in the order of its output."""
        return self._labels

    def identity(self) -> Mapping[str, Any]:
        return {
            "model": str(self.params.model),
            "sha256": self.sha256,
            "labels": "".join(self.labels),
            "window": self.window,
            "normalization": self.normalization,
        }

    def check_sources(self, sources: Mapping[str, Stage]) -> Iterable[str]:
        source = sources.get("features")
        contract = None if source is None else source.contract
        if contract != self.normalization:
            yield (
                f"the model was trained on '{self.normalization}' features but its input "
                f"produces '{contract}'"
            )

    def open(self, session_id: str) -> StageSession:
        return _ClassifySession(self)


class _ClassifySession(StageSession):
    """Holds this session's window of consecutive frames with a hand."""

    def __init__(self, stage: ClassifyStage) -> None:
        self._run = stage.session.run
        self._input = stage.input_name
        self._labels = stage.labels
        self._window = np.zeros((1, stage.window, stage.n_features), np.float32)
        self._frames = 0

    def process(self, frame: FrameContext, features: Features | None) -> Probabilities | None:
        window = self._window
        if features is None:
            self._frames = 0
            return None
        if self._frames == 0:
            window[0, :] = features.values  # pad with the first frame
        else:
            window[0, :-1] = window[0, 1:]
            window[0, -1] = features.values
        self._frames += 1
        (probabilities,) = self._run(None, {self._input: window})
        return Probabilities(probabilities[0], self._labels, min(self._frames, window.shape[1]))

    def reset(self, control: Control) -> None:
        self._frames = 0


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(ClassifyStage)
