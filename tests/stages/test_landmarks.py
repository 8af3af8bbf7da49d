"""``landmarks``: the ingress for clients that run MediaPipe themselves, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from signify_stages.landmarks import LandmarksStage

from signify_graph import Hand, InputError
from signify_graph.testing import HarnessSession, StageHarness


@pytest.fixture
def landmarks(stage_harness: Callable[..., StageHarness]) -> HarnessSession:
    return stage_harness(LandmarksStage, {"aspect": 4 / 3}).session()


def a_hand(real_hands: list[Hand]) -> list[list[float]]:
    points: list[list[float]] = real_hands[0].landmarks.astype(float).tolist()
    return points


def test_a_21_by_3_list_becomes_a_hand_with_the_configured_aspect(
    landmarks: HarnessSession, real_hands: list[Hand]
) -> None:
    points = a_hand(real_hands)
    hand = landmarks.process(points)
    assert isinstance(hand, Hand)
    assert hand.landmarks.shape == (21, 3) and hand.landmarks.dtype == np.float32
    np.testing.assert_allclose(hand.landmarks, np.array(points, np.float32))
    assert hand.aspect == pytest.approx(4 / 3)
    assert hand.handedness is None
    assert landmarks.process(np.array(points)).aspect == pytest.approx(4 / 3)


def test_a_mapping_gives_aspect_image_size_and_handedness(
    landmarks: HarnessSession, real_hands: list[Hand]
) -> None:
    points = a_hand(real_hands)
    hand = landmarks.process({"landmarks": points, "aspect": 0.75, "handedness": "Left"})
    assert (hand.aspect, hand.handedness) == (0.75, "Left")
    hand = landmarks.process({"landmarks": points, "image_size": [1280, 720]})
    assert hand.aspect == pytest.approx(16 / 9)
    assert landmarks.process({"landmarks": points}).aspect == pytest.approx(4 / 3)


@pytest.mark.parametrize("message", [None, [], {"landmarks": None}, {"landmarks": []}])
def test_null_or_an_empty_list_means_no_hand(landmarks: HarnessSession, message: Any) -> None:
    assert landmarks.process(message) is None


def garbage(real: list[list[float]]) -> dict[str, Any]:
    nan = [row[:] for row in real]
    nan[3][1] = float("nan")
    inf = [row[:] for row in real]
    inf[20][0] = float("inf")
    huge = [row[:] for row in real]
    huge[0][0] = 1e9
    past_double: list[list[Any]] = [row[:] for row in real]
    past_double[0][0] = 10**400  # float() of it raises OverflowError
    numeric_text: list[list[Any]] = [row[:] for row in real]
    numeric_text[0][0] = "0.5"  # numpy reads it as a number; the schema does not
    boolean: list[list[Any]] = [row[:] for row in real]
    boolean[0][0] = True
    return {
        "nan": nan,
        "inf": inf,
        "20x3": real[:20],
        "21x2": [row[:2] for row in real],
        "21x4": [[*row, 0.0] for row in real],
        "ragged": [*real[:20], [0.1, 0.2]],
        "nested-garbage": [[[0.1, 0.2, 0.3]]] * 21,
        "strings": [["a", "b", "c"]] * 21,
        "a-string": "0.1, 0.2, 0.3",
        "a-number": 0.5,
        "flat-63": [v for row in real for v in row],
        "huge": huge,
        "all-equal": [[0.5, 0.5, 0.0]] * 21,
        "no-landmarks-key": {"points": real},
        "bad-handedness": {"landmarks": real, "handedness": "left-ish"},
        "bad-aspect": {"landmarks": real, "aspect": "wide"},
        "zero-aspect": {"landmarks": real, "aspect": 0},
        "bool-aspect": {"landmarks": real, "aspect": True},
        "bad-image-size": {"landmarks": real, "image_size": [640]},
        "negative-image-size": {"landmarks": real, "image_size": [640, -480]},
        "past-double": past_double,
        "numeric-text": numeric_text,
        "boolean": boolean,
        "text-array": np.array([["0.5"] * 3] * 21),
        "past-double-image-size": {"landmarks": real, "image_size": [10**400, 480]},
        "past-double-both-sides": {"landmarks": real, "image_size": [10**400, 10**400]},
        "text-image-size": {"landmarks": real, "image_size": ["640", 480]},
        "past-double-aspect": {"landmarks": real, "aspect": 10**400},
    }


@pytest.mark.parametrize("case", list(garbage([[0.0, 0.0, 0.0]] * 21)))
def test_malformed_landmarks_are_refused_as_bad_landmarks(
    landmarks: HarnessSession, real_hands: list[Hand], case: str
) -> None:
    message = garbage(a_hand(real_hands))[case]
    with pytest.raises(InputError) as caught:
        landmarks.process(message)
    assert caught.value.code == "bad_landmarks"
    assert caught.value.message
