"""One client's hand tracking for the ``hands`` stage: which view MediaPipe sees, and its clocks.

``view: right_hand`` needs a second look when a new hand appears as a left hand. In video mode
that look must not disturb the session's tracker, so it goes to a second landmarker, kept for
the session: creating and closing one per look (~45 ms) made a server's memory creep up by
~250 MB over a 10-minute soak. Before each look the second landmarker is shown a blank frame,
which ends any track it had, so the look is exactly a fresh detection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from signify_graph import FrameContext, Hand, Image, StageSession

from .normalize import chirality

_OTHER_HAND = {"Left": "Right", "Right": "Left"}
_BLANK = np.zeros((64, 64, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class _Found:
    hand: Hand
    #: Chirality of the hand as MediaPipe saw it (> 0: a right hand; see ``normalize``), for
    #: ``view: right_hand``; 0 for the other views, which never ask.
    chirality: float


class _Tracker:
    """A landmarker and its clock. Video mode refuses a timestamp that does not increase; a
    session's second landmarker is also called between frames, so each keeps its own."""

    def __init__(self, landmarker: Any, video: bool) -> None:
        self.landmarker = landmarker
        self.video = video
        self.last_ms = -1

    def detect(self, image: Any, timestamp_ms: int) -> Any:
        if not self.video:
            return self.landmarker.detect(image)
        self.last_ms = max(timestamp_ms, self.last_ms + 1)
        return self.landmarker.detect_for_video(image, self.last_ms)

    def close(self) -> None:
        self.landmarker.close()


class HandsSession(StageSession):
    """Find the most confident hand in the view the parameters ask for (see ``HandsParams``)."""

    def __init__(self, create: Callable[[], Any], *, video: bool, pad: float, view: str) -> None:
        import mediapipe as mp

        self._mp_image = mp.Image
        self._srgb = mp.ImageFormat.SRGB
        self._create = create
        self._video = video
        self._pad = pad
        self._tracker = _Tracker(create(), video)
        self._spare: _Tracker | None = None
        self._choose = view == "right_hand"
        self._flipped = view == "mirrored"
        self._new_hand = True

    def process(self, frame: FrameContext, image: Image) -> Hand | None:
        found = self._detect(self._tracker, image.rgb, self._flipped, frame.timestamp_ms)
        if self._choose and self._new_hand and found is not None and found.chirality < 0:
            found = self._other_view(image.rgb, frame.timestamp_ms, found)
        self._new_hand = found is None or not self._video
        return None if found is None else found.hand

    def _other_view(self, rgb: np.ndarray[Any, Any], timestamp_ms: int, found: _Found) -> _Found:
        """A new hand looks like a left hand: look at the other view too and keep whichever
        looks more like a right hand. A frame and its mirror image thus end up with the same
        view whenever MediaPipe's two hands have opposite chirality (~95 % of photos)."""
        tracker = self._clean_spare(timestamp_ms) if self._video else self._tracker
        other = self._detect(tracker, rgb, not self._flipped, timestamp_ms)
        if other is None or other.chirality <= found.chirality:
            return found
        if tracker is not self._tracker:
            self._tracker, self._spare = tracker, self._tracker
        self._flipped = not self._flipped
        return other

    def _clean_spare(self, timestamp_ms: int) -> _Tracker:
        if self._spare is None:
            self._spare = _Tracker(self._create(), video=True)
        elif self._spare.last_ms >= 0:  # end whatever it was tracking
            blank = self._mp_image(image_format=self._srgb, data=_BLANK)
            self._spare.detect(blank, timestamp_ms)
        return self._spare

    def _detect(
        self, tracker: _Tracker, rgb: np.ndarray[Any, Any], flipped: bool, timestamp_ms: int
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
        result = tracker.detect(mp_image, timestamp_ms)
        if not result.hand_landmarks:
            return None
        best = max(range(len(result.hand_landmarks)), key=lambda i: result.handedness[i][0].score)
        points = np.array([(p.x, p.y, p.z) for p in result.hand_landmarks[best]], dtype=np.float32)
        if border:
            padded_w, padded_h = width + 2 * border, height + 2 * border
            points[:, 0] = (points[:, 0] * padded_w - border) / width
            points[:, 1] = (points[:, 1] * padded_h - border) / height
            points[:, 2] *= padded_w / width
        seen_as = 0.0
        if self._choose:  # only right_hand asks which hand MediaPipe saw
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
        self._tracker.close()
        if self._spare is not None:
            self._spare.close()
