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


def _is_number(value: Any) -> bool:
    """A JSON number: ``"0.5"`` and ``true`` are not (numpy would read both as numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    """``value`` as a finite double; ``None`` for anything else (an integer past any double
    included: ``float()`` of it raises ``OverflowError``)."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _aspect(message: Mapping[str, Any], default: float) -> float:
    if "aspect" in message:
        value = _finite(message["aspect"])
    elif "image_size" in message:
        size = message["image_size"]
        if not (isinstance(size, list | tuple) and len(size) == 2):
            raise InputError("image_size must be [width, height]", code="bad_landmarks")
        width, height = (_finite(v) for v in size)
        if width is None or height is None or width <= 0 or height <= 0:
            raise InputError("image_size must hold two positive numbers", code="bad_landmarks")
        value = width / height
    else:
        return default
    if value is None or not 0.1 < value <= 10:
        raise InputError("aspect must be a number in (0.1, 10]", code="bad_landmarks")
    return value


def _points(points: Any) -> np.ndarray:
    """The points as a float64 array, if they are numbers (nested lists, as JSON gives them,
    or a numeric array); the shape is checked by the caller."""
    if isinstance(points, np.ndarray):
        if points.dtype.kind not in "iuf":
            raise InputError("landmarks must be 21 [x, y, z] number triples", code="bad_landmarks")
        return points.astype(np.float64)
    if not (
        isinstance(points, list | tuple)
        and all(
            isinstance(point, list | tuple) and all(_is_number(v) for v in point)
            for point in points
        )
    ):
        raise InputError("landmarks must be 21 [x, y, z] number triples", code="bad_landmarks")
    try:
        return np.asarray(points, dtype=np.float64)
    except OverflowError as exc:  # an integer past any double
        raise InputError(
            f"landmark coordinates beyond ±{_LIMIT:g} are not image-normalised",
            code="bad_landmarks",
        ) from exc
    except ValueError as exc:  # ragged
        raise InputError(
            "landmarks must be 21 [x, y, z] number triples", code="bad_landmarks"
        ) from exc


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
    array = _points(points)
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
