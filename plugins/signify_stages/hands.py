"""``hands``: find a hand with MediaPipe's Tasks ``HandLandmarker``.

Each session gets its own landmarker: in ``video`` mode it tracks the hand from frame to
frame (2–5 ms instead of 7–10 ms of palm detection) and needs strictly increasing
timestamps, which the engine assigns; in ``image`` mode every frame is detected from
scratch. Sharing one landmarker between clients — the predecessor's design — mixes their
tracks, so we never do.

The old ``MEDIAPIPE_MODEL_COMPLEXITY`` maps to ``model``: 0 → ``lite``, 1 → ``full``.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import BeforeValidator, Field

from signify_graph import (
    FrameContext,
    Hand,
    Image,
    Kind,
    ModelFile,
    Params,
    Port,
    Stage,
    StageConfigError,
    StageSession,
    hookimpl,
)

from .normalize import chirality

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO lines are not ours

_DRAWING = (
    "mediapipe.tasks.python.vision.drawing_styles",
    "mediapipe.tasks.python.vision.drawing_utils",
)


class _NoDrawing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Give MediaPipe empty drawing modules, so ``matplotlib.pyplot`` is never imported.

    ``mediapipe.tasks.python.vision`` imports its drawing helpers, which import pyplot:
    +35 MiB of RSS in a server that never draws. Opt-in (``SIGNIFY_SKIP_MEDIAPIPE_DRAWING=1``,
    set by the container image) because it changes those modules for the whole process.
    """

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        return importlib.machinery.ModuleSpec(name, self) if name in _DRAWING else None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        module.__doc__ = "Replaced by signify_stages.hands: drawing is not used here."


if os.environ.get("SIGNIFY_SKIP_MEDIAPIPE_DRAWING") == "1":
    sys.meta_path.insert(0, _NoDrawing())

_COMPLEXITY = {"0": "lite", "1": "full"}
_OTHER_HAND = {"Left": "Right", "Right": "Left"}


def _complexity(value: Any) -> Any:
    """Accept the predecessor's 0/1 as well as the names."""
    return _COMPLEXITY.get(str(value).strip(), value)


class HandsParams(Params):
    model: Annotated[Literal["lite", "full"], BeforeValidator(_complexity)] = "full"
    """Which bundle: ``lite`` (faster) or ``full`` (more accurate); 0/1 are accepted."""
    models_dir: Path = Path("../models")
    """Folder holding ``hand_landmarker_{lite,full}.task``, relative to the pipeline file."""
    bundle: ModelFile | None = None
    """A custom ``.task`` bundle; overrides ``model`` and ``models_dir``."""
    min_detection_confidence: float = Field(0.5, ge=0.0, le=1.0)
    """Palm detector score needed to report a hand (``MEDIAPIPE_MIN_DETECTION_CONFIDENCE``)."""
    min_tracking_confidence: float = Field(0.5, ge=0.0, le=1.0)
    """Below this the tracker re-runs palm detection (``MEDIAPIPE_MIN_TRACKING_CONFIDENCE``)."""
    min_presence_confidence: float = Field(0.5, ge=0.0, le=1.0)
    """Landmark model's hand-presence score needed to keep a tracked hand."""
    num_hands: int = Field(1, ge=1, le=4)
    """Hands to look for; the most confident one is passed on."""
    pad: float = Field(0.0, ge=0.0, le=1.0)
    """Black border around the image, as a fraction of its longer side.

    Tightly cropped photos (a hand filling the frame) are often missed without one."""
    mode: Literal["video", "image"] = "video"
    """``video``: track across a session's frames; ``image``: each frame on its own."""
    view: Literal["as_is", "mirrored", "right_hand"] = "as_is"
    """Which image MediaPipe looks at; landmarks always come in the original's coordinates.

    MediaPipe is not mirror-symmetric: in a frame and its mirror image it finds slightly
    different hands, sometimes different enough to change the letter. ``as_is``: the frame.
    ``mirrored``: its mirror image (a second ``hands`` node so, averaged with the first,
    makes ``pipelines/symmetric.yaml``). ``right_hand``: whichever of the two shows a right
    hand — decided when a hand appears, by the chirality ``normalize`` uses — so that
    MediaPipe sees the same picture for a selfie-view and an unmirrored camera, or a left
    and a right hand, at the cost of one more detection (and, in video mode, a new
    landmarker: ~45 ms) when a hand first appears as a left hand."""


class HandsStage(Stage):
    """Detect the most confident hand and its 21 landmarks with MediaPipe's HandLandmarker.

    Outputs the landmarks in image-normalised coordinates of the *unpadded* image, world
    landmarks, handedness and score — or ``None`` (no hand) when nothing is found.
    """

    name = "hands"
    params_model = HandsParams
    inputs: ClassVar = {"image": Port(Kind.IMAGE)}
    output = Kind.HAND

    def __init__(self, params: HandsParams, context: Any) -> None:
        super().__init__(params, context)
        if params.bundle is not None:
            path = params.bundle
        else:
            folder = params.models_dir
            folder = folder if folder.is_absolute() else context.base_dir / folder
            path = folder / f"hand_landmarker_{params.model}.task"
            if not path.is_file():
                raise StageConfigError(f"MediaPipe bundle '{path}' does not exist", param="model")
        self.bundle_path = path
        self._bundle = path.read_bytes()
        # Building one landmarker now proves the bundle works (a corrupt file fails here, at
        # validation time, not on a client's first frame).
        try:
            self._create().close()
        except Exception as exc:
            raise StageConfigError(
                f"MediaPipe cannot load bundle '{path}': {exc}",
                param="bundle" if params.bundle else "model",
            ) from exc

    def identity(self) -> Mapping[str, Any]:
        return {
            "bundle": str(self.bundle_path),
            "sha256": hashlib.sha256(self._bundle).hexdigest(),
            "mode": self.params.mode,
        }

    def _create(self) -> Any:
        from mediapipe.tasks.python import BaseOptions, vision

        p = self.params
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=self._bundle),
            running_mode=vision.RunningMode.VIDEO
            if p.mode == "video"
            else vision.RunningMode.IMAGE,
            num_hands=p.num_hands,
            min_hand_detection_confidence=p.min_detection_confidence,
            min_hand_presence_confidence=p.min_presence_confidence,
            min_tracking_confidence=p.min_tracking_confidence,
        )
        return vision.HandLandmarker.create_from_options(options)

    def open(self, session_id: str) -> StageSession:
        return _HandsSession(self._create, self.params)


@dataclass(frozen=True, slots=True)
class _Found:
    hand: Hand
    #: Chirality of the hand as MediaPipe saw it (> 0: a right hand), see ``normalize``.
    chirality: float


class _HandsSession(StageSession):
    def __init__(self, create: Callable[[], Any], params: HandsParams) -> None:
        import mediapipe as mp

        self._mp_image = mp.Image
        self._srgb = mp.ImageFormat.SRGB
        self._create = create
        self._landmarker = create()
        self._video = params.mode == "video"
        self._pad = params.pad
        self._choose = params.view == "right_hand"
        self._flipped = params.view == "mirrored"
        self._new_hand = True

    def process(self, frame: FrameContext, image: Image) -> Hand | None:
        found = self._detect(self._landmarker, image.rgb, self._flipped, frame.timestamp_ms)
        if self._choose and self._new_hand and found is not None and found.chirality < 0:
            found = self._other_view(image.rgb, frame.timestamp_ms, found)
        self._new_hand = found is None or not self._video
        return None if found is None else found.hand

    def _other_view(self, rgb: np.ndarray[Any, Any], timestamp_ms: int, found: _Found) -> _Found:
        """A new hand looks like a left hand: look at the other view too and keep whichever
        looks more like a right hand. A frame and its mirror image thus end up with the same
        view whenever MediaPipe's two hands have opposite chirality (~95 % of photos)."""
        landmarker = self._create() if self._video else self._landmarker  # a clean tracker
        other = self._detect(landmarker, rgb, not self._flipped, timestamp_ms)
        if other is None or other.chirality <= found.chirality:
            if landmarker is not self._landmarker:
                landmarker.close()
            return found
        if landmarker is not self._landmarker:
            self._landmarker.close()
            self._landmarker = landmarker
        self._flipped = not self._flipped
        return other

    def _detect(
        self, landmarker: Any, rgb: np.ndarray[Any, Any], flipped: bool, timestamp_ms: int
    ) -> _Found | None:
        height, width = rgb.shape[:2]
        if flipped:
            rgb = cv2.flip(rgb, 1)
        border = round(self._pad * max(width, height))
        if border:
            rgb = cv2.copyMakeBorder(
                rgb, border, border, border, border, cv2.BORDER_CONSTANT, value=0
            )
        mp_image = self._mp_image(image_format=self._srgb, data=np.ascontiguousarray(rgb))
        if self._video:
            result = landmarker.detect_for_video(mp_image, timestamp_ms)
        else:
            result = landmarker.detect(mp_image)
        if not result.hand_landmarks:
            return None
        best = max(range(len(result.hand_landmarks)), key=lambda i: result.handedness[i][0].score)
        points = np.array([(p.x, p.y, p.z) for p in result.hand_landmarks[best]], dtype=np.float32)
        if border:
            padded_w, padded_h = width + 2 * border, height + 2 * border
            points[:, 0] = (points[:, 0] * padded_w - border) / width
            points[:, 1] = (points[:, 1] * padded_h - border) / height
            points[:, 2] *= padded_w / width
        centred = (points - points[0]).astype(np.float64)
        centred[:, [0, 2]] *= width / height
        seen_as = float(chirality(centred[None])[0])
        world = None
        if result.hand_world_landmarks:
            world = np.array(
                [(p.x, p.y, p.z) for p in result.hand_world_landmarks[best]], dtype=np.float32
            )
        category = result.handedness[best][0]
        handedness = category.category_name
        if flipped:  # back to the original image: x mirrors, and so does the hand
            points[:, 0] = 1.0 - points[:, 0]
            if world is not None:
                world[:, 0] = -world[:, 0]
            handedness = _OTHER_HAND.get(handedness, handedness)
        hand = Hand(points, width / height, world, handedness, float(category.score))
        return _Found(hand, seen_as)

    def close(self) -> None:
        self._landmarker.close()


@hookimpl
def signify_register_stages(registry: Any) -> None:
    registry.add(HandsStage)
