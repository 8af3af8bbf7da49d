"""``landmarks``: the ingress for clients that run MediaPipe themselves.

Such clients send 21 (x, y, z) points instead of a JPEG — 63 floats instead of ~40 KB — so a
graph can start after ``hands``. Everything is validated, because a NaN that slips through
turns into a NaN probability on somebody's screen.

Accepted message values: a 21×3 nested list (or array), or a mapping
``{"landmarks": [[x, y, z], ...], "aspect": width/height, "handedness": "Left"|"Right"}``
(``image_size: [w, h]`` may replace ``aspect``). ``null`` or an empty list means no hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from signify_graph import (
    FrameContext,
    Hand,
    InputError,
    Kind,
    Params,
    Port,
    Stage,
    StageRegistry,
    hookimpl,
)

#: Image-normalised coordinates live near [0, 1]; anything this far out is not a hand.
_LIMIT = 100.0


class LandmarksParams(Params):
    aspect: float = Field(1.0, gt=0.1, le=10.0)
    """Width / height of the client's frames when the message does not say."""


def _aspect(message: Mapping[str, Any], default: float) -> float:
    if "aspect" in message:
        value = message["aspect"]
    elif "image_size" in message:
        size = message["image_size"]
        if not (isinstance(size, list | tuple) and len(size) == 2):
            raise InputError("image_size must be [width, height]", code="bad_landmarks")
        width, height = size
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in size):
            raise InputError("image_size must hold two positive numbers", code="bad_landmarks")
        value = width / height
    else:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 < value <= 10:
        raise InputError("aspect must be a number in (0.1, 10]", code="bad_landmarks")
    return float(value)


def parse_landmarks(message: Any, default_aspect: float = 1.0) -> Hand | None:
    """Validate a client's landmark message; ``None`` for an explicit "no hand"."""
    aspect, handedness = default_aspect, None
    points = message
    if isinstance(message, Mapping):
        if "landmarks" not in message:
            raise InputError("landmark message needs a 'landmarks' field", code="bad_landmarks")
        points = message["landmarks"]
        aspect = _aspect(message, default_aspect)
        handedness = message.get("handedness")
        if handedness is not None and handedness not in ("Left", "Right"):
            raise InputError("handedness must be 'Left' or 'Right'", code="bad_landmarks")
    if points is None or (isinstance(points, list) and not points):
        return None
    try:
        array = np.asarray(points, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(
            "landmarks must be 21 [x, y, z] number triples", code="bad_landmarks"
        ) from exc
    if array.shape != (21, 3):
        raise InputError(
            f"landmarks must have shape (21, 3), got {array.shape}", code="bad_landmarks"
        )
    if not np.all(np.isfinite(array)):
        raise InputError("landmarks contain NaN or infinite values", code="bad_landmarks")
    if np.abs(array).max() > _LIMIT:
        raise InputError(
            f"landmark coordinates beyond ±{_LIMIT:g} are not image-normalised",
            code="bad_landmarks",
        )
    if math.isclose(float(np.ptp(array[:, :2])), 0.0):
        raise InputError("all landmarks coincide", code="bad_landmarks")
    return Hand(array.astype(np.float32), aspect, None, handedness, 1.0)


class LandmarksStage(Stage):
    """Accept 21×3 hand landmarks from the client, validated (shape, finite values).

    For clients that run MediaPipe on the device: the graph starts where ``hands`` would end.
    """

    name = "landmarks"
    params_model = LandmarksParams
    inputs: ClassVar = {"message": Port(Kind.LANDMARK_MESSAGE)}
    output = Kind.HAND
    inline_safe = True

    def process(self, frame: FrameContext, message: Any) -> Hand | None:
        return parse_landmarks(message, self.params.aspect)


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(LandmarksStage)
