"""``hands``: find a hand with MediaPipe's Tasks ``HandLandmarker``.

Each session gets its own landmarker: in ``video`` mode it tracks the hand from frame to
frame (2–5 ms instead of 7–10 ms of palm detection) and needs strictly increasing
timestamps, which the engine assigns; in ``image`` mode every frame is detected from
scratch. Sharing one landmarker between clients — the old service's design — mixes their
tracks, so we never do.

The old ``MEDIAPIPE_MODEL_COMPLEXITY`` maps to ``model``: 0 → ``lite``, 1 → ``full``.

MediaPipe must not talk to the network: the stage refuses a release that would (see
:func:`check_no_uploader`).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from signify_graph import (
    Kind,
    ModelDir,
    ModelFile,
    Params,
    Port,
    Stage,
    StageConfigError,
    StageRegistry,
    StageSession,
    hookimpl,
)

from ._tracking import HandsSession

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

#: The first MediaPipe release with the usage-statistics uploader (0.10.34 was never released).
UPLOADER_SINCE = (0, 10, 34)


def check_no_uploader(version: str | None = None) -> None:
    """Refuse a MediaPipe whose Tasks library sends usage statistics to Google.

    From 0.10.35 on (checked: 0.10.35, 1.0.0, 1.2.2, 1.2.3) ``libmediapipe.so`` links libcurl
    and gives every landmarker a usage-statistics logger (``TasksStatsProtoLogger``), whatever
    the options: a thread of its own looks up ``play.googleapis.com`` and posts to it when a
    landmarker closes, and a minute after one is made if it is still open
    (google-ai-edge/mediapipe#6291). Nothing turns it off — ``TaskRunner::Create`` makes the
    logger unconditionally; there is no option, flag or environment variable — and blocking it
    from inside the process (a proxy variable makes libcurl try 127.0.0.1 instead; a patched
    ``getaddrinfo`` would rest on the binary's layout) still leaves the uploader running and
    trying. 0.10.31–0.10.33 are built without it: their library links no resolver, socket or
    HTTP code at all, and finds the same landmarks and letters (BENCHMARKS.md, "MediaPipe
    without its uploader", with what it costs). ``pyproject.toml`` pins them; this check stops
    a newer one installed by hand before it makes a landmarker, so no configuration leaks.
    ``tests/service/test_privacy.py`` proves it with strace on the running service.
    """
    version = version or importlib.metadata.version("mediapipe")
    release = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if release >= UPLOADER_SINCE:
        raise StageConfigError(
            f"mediapipe {version} sends usage statistics to play.googleapis.com on its own, "
            "with no way to turn it off; install the pinned release: "
            "pip install 'mediapipe>=0.10.31,<0.10.34'"
        )


_COMPLEXITY = {"0": "lite", "1": "full"}


def _complexity(value: Any) -> Any:
    """Accept the old ``MEDIAPIPE_MODEL_COMPLEXITY`` 0/1 as well as the names."""
    return _COMPLEXITY.get(str(value).strip(), value)


class HandsParams(Params):
    model: Annotated[Literal["lite", "full"], BeforeValidator(_complexity)] = "full"
    """Which bundle: ``lite`` (faster) or ``full`` (more accurate); 0/1 are accepted."""
    bundle: ModelFile | None = None
    """A custom ``.task`` bundle; overrides ``model`` and ``models_dir``."""
    models_dir: ModelDir = Field(Path("builtin:"), validate_default=True)
    """Folder holding ``hand_landmarker_{lite,full}.task``, relative to the pipeline file;
    ``builtin:`` is the bundles shipped in the package."""
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
    and a right hand, at the cost of one more detection when a new hand looks like a left
    hand (in video mode on a second landmarker, made once per session: ~45 ms, ~40 MB)."""

    @field_validator("models_dir")
    @classmethod
    def _bundle_exists(cls, folder: Path, info: ValidationInfo) -> Path:
        """A missing bundle is reported with every other problem, naming what to set."""
        model, bundle = info.data.get("model"), info.data.get("bundle")
        name = f"hand_landmarker_{model}.task"
        if model is not None and bundle is None and not (folder / name).is_file():
            raise ValueError(
                f"no MediaPipe bundle {name} in {folder}: set models_dir to the folder "
                "holding it (builtin: for the shipped ones), or bundle to a .task file"
            )
        return folder

    @property
    def bundle_path(self) -> Path:
        """The bundle the stage loads."""
        return self.bundle or self.models_dir / f"hand_landmarker_{self.model}.task"


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
        check_no_uploader()
        path = params.bundle_path
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
        p = self.params
        return HandsSession(self._create, video=p.mode == "video", pad=p.pad, view=p.view)


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(HandsStage)
