"""``normalize``: the invariances the classifier relies on, on real hands from the photos."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signify_stages.normalize import (
    CHIRAL_CONTRACT,
    CONTRACT,
    N_FEATURES,
    N_SHAPE,
    V1_CHIRAL_CONTRACT,
    V1_CONTRACT,
    NormalizeStage,
    chirality,
    normalize_batch,
    planar_chirality,
)

from signify_graph import Features, Hand, InputError
from signify_graph.testing import StageHarness

from .conftest import Photo, detect_all

Points = npt.NDArray[np.float64]
PROPERTY = settings(max_examples=60, deadline=None)


def features(points: Points, aspect: float = 1.0) -> npt.NDArray[np.float32]:
    return normalize_batch(points, aspect)[0]


def shape(points: Points, aspect: float = 1.0) -> npt.NDArray[np.float32]:
    """The hand's shape: the features but the wrist's place and the palm size."""
    return features(points, aspect)[:N_SHAPE]


@pytest.fixture(scope="module")
def hand_points(real_hands: list[Hand]) -> list[Points]:
    """Raw image coordinates (x, y in 0..1, z relative to the wrist) of real hands."""
    return [hand.landmarks.astype(np.float64) for hand in real_hands]


def mirrored(points: Points) -> Points:
    """What MediaPipe reports on the horizontally flipped image: x → 1 − x."""
    result = points.copy()
    result[:, 0] = 1.0 - result[:, 0]
    result[:, 2] = result[:, 2]  # depth does not change under a horizontal flip
    return result


index = st.integers(0, 10_000)


@PROPERTY
@given(index=index, dx=st.floats(-3, 3), dy=st.floats(-3, 3), dz=st.floats(-1, 1))
def test_features_do_not_depend_on_where_the_hand_is(
    hand_points: list[Points], index: int, dx: float, dy: float, dz: float
) -> None:
    points = hand_points[index % len(hand_points)]
    moved = points + np.array([dx, dy, dz])
    np.testing.assert_allclose(shape(moved), shape(points), atol=1e-5)
    place, moved_place = features(points)[N_SHAPE:], features(moved)[N_SHAPE:]
    assert moved_place[2] == pytest.approx(place[2], abs=1e-6)  # the palm size
    # x is reflected with the hand (the same for both: their shapes are equal), y never
    assert abs(moved_place[0] - place[0]) == pytest.approx(abs(dx), abs=1e-5)
    assert moved_place[1] - place[1] == pytest.approx(dy, abs=1e-5)


@PROPERTY
@given(index=index, scale=st.floats(0.05, 20))
def test_features_do_not_depend_on_the_hands_size(
    hand_points: list[Points], index: int, scale: float
) -> None:
    points = hand_points[index % len(hand_points)]
    np.testing.assert_allclose(shape(points * scale), shape(points), atol=1e-5)


@PROPERTY
@given(index=index, dx=st.floats(-1, 1), scale=st.floats(0.2, 5))
def test_features_do_not_depend_on_mirroring_the_image(
    hand_points: list[Points], index: int, dx: float, scale: float
) -> None:
    """A selfie-view frame, or the other hand, gives the same features."""
    points = hand_points[index % len(hand_points)] * scale + np.array([dx, 0.0, 0.0])
    flipped = mirrored(points)
    assert np.sign(chirality(flipped[None] - flipped[None, :1])) != np.sign(
        chirality(points[None] - points[None, :1])
    )
    np.testing.assert_allclose(features(flipped), features(points), atol=1e-5)


@PROPERTY
@given(index=index, dx=st.floats(-1, 1), dz=st.floats(-1, 1), scale=st.floats(0.2, 5))
def test_hands_without_depth_do_not_depend_on_mirroring_either(
    hand_points: list[Points], index: int, dx: float, dz: float, scale: float
) -> None:
    """A 2-D hand (every z equal, as a 2-D client or source sends it) is mirror-canonical by
    its chirality in the image plane, exactly as a 3-D hand is by its triple product."""
    points = hand_points[index % len(hand_points)] * scale + np.array([dx, 0.0, 0.0])
    points[:, 2] = dz
    flipped = mirrored(points)
    assert np.sign(planar_chirality(flipped[None] - flipped[None, :1])) != np.sign(
        planar_chirality(points[None] - points[None, :1])
    )
    # The hand's shape is bit-identical; where the wrist is (the contract's last three numbers,
    # which the model reads only as movement) may differ by a float rounding of x → −x.
    np.testing.assert_array_equal(features(flipped)[:N_SHAPE], features(points)[:N_SHAPE])
    np.testing.assert_allclose(features(flipped)[N_SHAPE:], features(points)[N_SHAPE:], atol=1e-6)
    assert not shape(points).reshape(21, 3)[:, 2].any()


def test_v2_gives_hands_with_depth_the_shape_v1_gave_them_and_mirrors_2d_ones_too(
    hand_points: list[Points],
) -> None:
    batch = np.stack(hand_points)
    assert batch[:, :, 2].any(axis=1).all()
    v2, v1 = normalize_batch(batch), normalize_batch(batch, version="v1")
    assert v1.shape == (len(batch), N_SHAPE) and v2.shape == (len(batch), N_FEATURES)
    np.testing.assert_array_equal(v2[:, :N_SHAPE], v1)
    flat = batch.copy()
    flat[:, :, 2] = 0.0
    flipped = normalize_batch(flat)[:, :N_SHAPE] != normalize_batch(flat, version="v1")
    assert flipped.any(axis=1).sum() > 0  # v1 left some 2-D hands mirrored


def test_the_wrist_is_placed_from_the_image_centre_in_image_heights_with_the_palm_size(
    hand_points: list[Points],
) -> None:
    points = hand_points[0].copy()
    points[:, :2] += np.array([0.5, 0.5]) - points[0, :2]  # the wrist at the centre
    at_centre = features(points, 16 / 9)
    assert at_centre[N_SHAPE : N_SHAPE + 2] == pytest.approx([0.0, 0.0], abs=1e-6)
    right = points + np.array([0.25, 0.0, 0.0])  # a quarter of the width to the right
    x = features(right, 16 / 9)[N_SHAPE]
    assert abs(x) == pytest.approx(0.25 * 16 / 9, abs=1e-5)  # in image heights
    knuckles = (points[[5, 9, 13, 17]] - points[0]) * np.array([16 / 9, 1.0, 16 / 9])
    palm = np.linalg.norm(knuckles, axis=1).mean()
    assert at_centre[N_SHAPE + 2] == pytest.approx(palm, rel=1e-5)


@PROPERTY
@given(index=index, stretch=st.floats(0.25, 4))
def test_aspect_undoes_the_stretch_of_a_non_square_frame(
    hand_points: list[Points], index: int, stretch: float
) -> None:
    """x and z are divided by the width: on a frame ``stretch`` times narrower they grow by it.

    Passing the frame's aspect (width / height = 1 / stretch) gives the features of the
    undistorted hand; ignoring it does not.
    """
    points = hand_points[index % len(hand_points)]
    stretched = points * np.array([stretch, 1.0, stretch])
    np.testing.assert_allclose(shape(stretched, 1 / stretch), shape(points), atol=1e-5)
    if abs(stretch - 1) > 0.2:
        assert np.abs(shape(stretched) - shape(points)).max() > 1e-2


def test_a_batch_is_normalised_like_its_rows(hand_points: list[Points]) -> None:
    batch = np.stack(hand_points[:10])
    aspects = np.linspace(0.5, 2.0, 10)
    rows = np.stack([normalize_batch(p, a)[0] for p, a in zip(batch, aspects, strict=True)])
    np.testing.assert_allclose(normalize_batch(batch, aspects), rows, atol=1e-6)
    assert rows.shape == (10, N_FEATURES) and rows.dtype == np.float32


def test_features_are_wrist_relative_and_palm_sized(hand_points: list[Points]) -> None:
    values = shape(hand_points[0]).reshape(21, 3)
    assert np.allclose(values[0], 0.0)
    assert np.linalg.norm(values[[5, 9, 13, 17]], axis=1).mean() == pytest.approx(1.0, abs=1e-5)


@pytest.fixture
def normalize(stage_harness: Callable[..., StageHarness]) -> Callable[..., Any]:
    def run(hand: Hand | None, **params: Any) -> Any:
        return stage_harness(NormalizeStage, params).session().process(hand)

    return run


def test_the_stage_names_its_contract_and_passes_no_hand_on(
    normalize: Callable[..., Any], real_hands: list[Hand]
) -> None:
    result = normalize(real_hands[0])
    assert isinstance(result, Features) and result.contract == CONTRACT
    assert result.values.shape == (N_FEATURES,)
    assert normalize(real_hands[0], mirror_invariant=False).contract == CHIRAL_CONTRACT
    assert normalize(real_hands[0], version="v1").contract == V1_CONTRACT
    v1_chiral = normalize(real_hands[0], version="v1", mirror_invariant=False)
    assert v1_chiral.contract == V1_CHIRAL_CONTRACT and v1_chiral.values.shape == (N_SHAPE,)
    assert normalize(None) is None


def test_left_and_right_hands_give_the_same_features_whatever_their_label(
    normalize: Callable[..., Any], real_hands: list[Hand]
) -> None:
    for hand in real_hands[:10]:
        right = Hand(hand.landmarks, hand.aspect, handedness="Right")
        left = Hand(mirrored(hand.landmarks.astype(np.float64)), hand.aspect, handedness="Left")
        np.testing.assert_allclose(normalize(left).values, normalize(right).values, atol=1e-5)
        chiral = normalize(left, mirror_invariant=False).values
        assert np.abs(chiral - normalize(right, mirror_invariant=False).values).max() > 0.1


def test_a_degenerate_hand_is_refused_as_bad_landmarks(normalize: Callable[..., Any]) -> None:
    points = np.zeros((21, 3), np.float32)
    points[1:5] = [[0.1, 0.1, 0.0]] * 4  # every knuckle on the wrist
    with pytest.raises(InputError) as caught:
        normalize(Hand(points))
    assert caught.value.code == "bad_landmarks"


@pytest.mark.slow
def test_real_photos_and_their_mirror_images_give_nearly_the_same_features(
    photos: list[Photo], padded_hands: list[Hand | None]
) -> None:
    """MediaPipe run on the flipped photo, not a flipped copy of its answer.

    MediaPipe is not exactly flip-equivariant: re-detecting a hand moves features by ~0.05 even
    with only a border added, ~0.09 on the flipped photo. Without the mirror canonicalisation
    the difference is ~0.33. On 7 of 68 photos (B, E, I, O, Q, W, Y) MediaPipe fits a hand of
    the same chirality — and handedness — to the flipped photo: the landmark model's own
    ambiguity, which no canonicalisation of its output can undo.
    """

    class Flipped(Photo):
        def rgb(self) -> npt.NDArray[np.uint8]:
            return np.ascontiguousarray(super().rgb()[:, ::-1])

    chosen = [(p, h) for p, h in zip(photos, padded_hands, strict=True) if h is not None]
    flipped_hands = detect_all([Flipped(p.letter, p.path) for p, _ in chosen], 0.25)
    invariant, chiral = [], []
    for (_, hand), flipped in zip(chosen, flipped_hands, strict=True):
        if flipped is None:
            continue
        pair = [hand.landmarks, flipped.landmarks]
        a, b = (normalize_batch(p)[0, :N_SHAPE] for p in pair)
        invariant.append(float(np.abs(a - b).mean()))
        a, b = (normalize_batch(p, mirror_invariant=False)[0, :N_SHAPE] for p in pair)
        chiral.append(float(np.abs(a - b).mean()))
    assert len(invariant) >= 50
    print(
        f"\nphoto vs mirrored photo, mean |Δfeature| over {len(invariant)}: "
        f"invariant {np.median(invariant):.4f}, chiral {np.median(chiral):.4f}"
    )
    assert np.median(invariant) < 0.15
    assert np.median(invariant) * 3 < np.median(chiral)
