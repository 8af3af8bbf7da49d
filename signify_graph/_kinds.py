"""The data kinds that flow along a graph's edges, and the values that carry them.

A port is typed by a :class:`Kind`; two nodes connect only when the output kind of one
equals the input kind of the other, so a graph that would hand an image to a classifier
fails validation instead of failing on the first frame.

Values are small frozen dataclasses around numpy arrays. "No hand in this frame" is a
value too (``None`` on a ``hand``, ``features`` or ``probabilities`` port), so every stage
sees it explicitly and the reply can say ``no_hand`` instead of inventing a letter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class Kind(enum.StrEnum):
    """What a port carries. The set is small on purpose: stages interoperate through it."""

    #: Encoded image bytes (JPEG/PNG/WebP), or base64 text of them.
    ENCODED_IMAGE = "encoded_image"
    #: A decoded RGB image (:class:`Image`).
    IMAGE = "image"
    #: Landmarks as a client sent them: nested lists or an array, not yet validated.
    LANDMARK_MESSAGE = "landmark_message"
    #: One detected hand (:class:`Hand`) or ``None`` when there is none.
    HAND = "hand"
    #: A normalised feature vector (:class:`Features`) or ``None``.
    FEATURES = "features"
    #: A probability vector over labels (:class:`Probabilities`) or ``None``.
    PROBABILITIES = "probabilities"
    #: The text a session has spelled so far and the letter building (:class:`Spelling`).
    SPELLING = "spelling"
    #: The JSON-ready answer for the client (:class:`Reply`), or ``None`` when throttled.
    REPLY = "reply"


@dataclass(frozen=True, slots=True)
class Image:
    """An RGB image, ``uint8`` of shape (height, width, 3)."""

    rgb: npt.NDArray[np.uint8]
    #: True when the decoder mirrored it (selfie view), so later stages can tell.
    mirrored: bool = False

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True, slots=True)
class Hand:
    """One hand as MediaPipe reports it.

    ``landmarks`` are the 21 points in image-normalised coordinates: x divided by the image
    width, y by its height, z relative to the wrist on roughly the scale of x. ``aspect`` is
    width / height of the image they were measured on; normalisation needs it to undo the
    anisotropic scaling.
    """

    landmarks: FloatArray
    aspect: float = 1.0
    world_landmarks: FloatArray | None = None
    handedness: str | None = None
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class Features:
    """A normalised feature vector and the name of the normalisation that produced it."""

    values: FloatArray
    contract: str


@dataclass(frozen=True, slots=True)
class Probabilities:
    """Probabilities over ``labels``; ``frames`` counts the real frames behind them."""

    values: FloatArray
    labels: tuple[str, ...]
    frames: int = 1

    def top(self) -> tuple[str, float]:
        index = int(np.argmax(self.values))
        return self.labels[index], float(self.values[index])


@dataclass(frozen=True, slots=True)
class Spelling:
    """What a session has spelled: ``text`` so far, the letters ``committed`` by this frame
    (``""`` if none), and the letter ``pending`` (building towards a commit) with its
    ``progress`` from 0 to 1, or ``None``."""

    text: str
    committed: str = ""
    pending: str | None = None
    progress: float = 0.0


#: A reply is a JSON-ready mapping.
Reply = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Control:
    """A control message for one session: start over, optionally with a new target letter
    or a target word (the older app's word mode; then ``target`` is ``None``).

    Stages receive it through :meth:`StageSession.reset`; it never travels along edges, so it
    acts at once instead of queueing behind frames.
    """

    target: str | None = None
    #: The word the session is to spell (upper-case A-Z), or ``None`` outside word mode.
    word: str | None = None


@dataclass(frozen=True, slots=True)
class TextEdit:
    """A client's edit of its session's spelled text: ``clear`` it, ``delete`` the last
    character, or add a ``space``.

    Stages receive it through :meth:`StageSession.edit`. Unlike a :class:`Control` it is not
    a reset: windows, trackers and the target are left as they are.
    """

    action: str


@dataclass(slots=True)
class FrameContext:
    """What the engine knows about the item being processed, the same for every stage.

    ``timestamp_ms`` is assigned by the engine and strictly increases within a session (so
    MediaPipe's video mode accepts it); replaying a recording reproduces it exactly.
    """

    session_id: str
    sequence: int
    timestamp_ms: int
