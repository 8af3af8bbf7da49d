"""``hands``: MediaPipe's HandLandmarker on the committed photos, and its configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from signify_stages.hands import HandsParams, HandsStage

from signify_graph import (
    FrameContext,
    Hand,
    Image,
    PipelineInvalid,
    PluginHost,
    StageConfigError,
    build_graph,
    plan_pipeline,
)
from signify_graph.testing import StageHarness

from .conftest import PIPELINES, Photo

Harness = Callable[..., StageHarness]


def rate(hands: list[Hand | None]) -> float:
    return sum(hand is not None for hand in hands) / len(hands)


@pytest.mark.slow
def test_the_full_model_with_a_border_finds_a_hand_in_most_committed_photos(
    padded_hands: list[Hand | None], unpadded_hands: list[Hand | None]
) -> None:
    padded, unpadded = rate(padded_hands), rate(unpadded_hands)
    print(
        f"\nhands (full, image mode) on {len(padded_hands)} photos: "
        f"pad 0.25 → {padded:.1%}, pad 0 → {unpadded:.1%}"
    )
    assert padded >= 0.85
    assert unpadded >= 0.80


def test_landmarks_of_a_padded_detection_are_mapped_back_to_the_unpadded_image(
    padded_hands: list[Hand | None], unpadded_hands: list[Hand | None]
) -> None:
    """Without the mapping, a 25 % border would shift x and y by 0.1–0.2."""
    diffs = [
        float(np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).mean())
        for a, b in zip(padded_hands, unpadded_hands, strict=True)
        if a is not None and b is not None
    ]
    assert len(diffs) >= 50
    print(f"\npad 0.25 vs pad 0, mean |Δxy| per photo: median {np.median(diffs):.4f}")
    assert float(np.median(diffs)) < 0.02
    assert sorted(diffs)[len(diffs) // 4] < 0.01


def test_a_detected_hand_carries_21_landmarks_aspect_handedness_and_score(
    padded_hands: list[Hand | None],
) -> None:
    hand = next(h for h in padded_hands if h is not None)
    assert hand.landmarks.shape == (21, 3) and hand.landmarks.dtype == np.float32
    assert hand.world_landmarks is not None and hand.world_landmarks.shape == (21, 3)
    assert hand.aspect == 1.0
    assert hand.handedness in ("Left", "Right")
    assert 0.5 <= hand.score <= 1.0


def test_video_mode_tracks_one_hand_over_a_sequence_of_frames(
    photos: list[Photo], stage_harness: Harness
) -> None:
    photo = next(p for p in photos if p.letter == "L")
    image = Image(photo.rgb())
    session = stage_harness(HandsStage, {"pad": 0.25}, base_dir=PIPELINES).session()
    hands = [session.process(image, timestamp_ms=33 * i) for i in range(8)]
    assert all(hand is not None for hand in hands)
    for hand in hands:
        assert hand is not None
        assert float(hand.landmarks[:, :2].min()) >= -0.5
        assert float(hand.landmarks[:, :2].max()) <= 1.5
    # Tracking the same still photo keeps the hand where it is.
    first, last = hands[0], hands[-1]
    assert first is not None and last is not None
    assert float(np.abs(first.landmarks[:, :2] - last.landmarks[:, :2]).mean()) < 0.02


def test_each_session_tracks_with_its_own_landmarker_and_clock(
    photos: list[Photo], stage_harness: Harness
) -> None:
    """Two clients both start at t = 0: a shared video-mode landmarker would refuse that."""
    image = Image(photos[0].rgb())
    harness = stage_harness(HandsStage, {"pad": 0.25}, base_dir=PIPELINES)
    first, second = harness.session(), harness.session()
    for t in (0, 40, 80):
        first.process(image, timestamp_ms=t)
        second.process(image, timestamp_ms=t)


def test_video_mode_moves_a_timestamp_that_does_not_increase_past_the_last(
    photos: list[Photo], stage_harness: Harness
) -> None:
    """MediaPipe's video mode refuses a timestamp that does not increase (why the engine
    assigns them). The hands stage also calls a session's landmarkers between frames (for
    ``view: right_hand``), so it keeps each one's clock strictly increasing itself."""
    harness = stage_harness(HandsStage, {"pad": 0.25}, base_dir=PIPELINES)
    session = harness.stage.open("raw")
    image = Image(next(p for p in photos if p.letter == "L").rgb())
    try:
        first = session.process(FrameContext("raw", 1, 100), image)
        again = session.process(FrameContext("raw", 2, 100), image)
        assert first is not None and again is not None
    finally:
        session.close()


def mirror_mapped(hand: Hand) -> np.ndarray:
    """The hand's landmarks as they lie in the mirror image."""
    points = hand.landmarks.copy()
    points[:, 0] = 1.0 - points[:, 0]
    return points


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["image", "video"])
def test_the_right_hand_view_shows_mediapipe_one_picture_for_a_photo_and_its_mirror_image(
    photos: list[Photo], stage_harness: Harness, mode: str
) -> None:
    """Whichever of a photo and its mirror image shows a right hand is what MediaPipe sees,
    so both give the same hand, mirrored — unless MediaPipe's two hands have the same
    chirality (then each keeps its own). In video mode each photo is a new client, held
    for three frames: the view is chosen on the first, and tracked after."""
    harness = stage_harness(HandsStage, {"mode": mode, "view": "right_hand"}, base_dir=PIPELINES)
    same = both = 0
    frames = 1 if mode == "image" else 3
    for photo in photos[:: 1 if mode == "image" else 3]:
        rgb = photo.rgb()
        found = []
        for image in (rgb, np.ascontiguousarray(rgb[:, ::-1])):
            with harness.session() as session:  # a new client: its own landmarker
                found.append([session.process(Image(image)) for _ in range(frames)])
        for plain, mirrored in zip(*found, strict=True):
            if plain is not None and mirrored is not None:
                both += 1
                same += bool(np.allclose(plain.landmarks, mirror_mapped(mirrored), atol=1e-5))
    print(f"\nright_hand, {mode} mode: the same hand in {same} of {both} photo/mirror pairs")
    assert both >= 50
    assert same >= 0.9 * both


@pytest.mark.slow
def test_a_long_session_meeting_hands_of_both_sides_sees_each_as_a_new_session_would(
    photos: list[Photo], stage_harness: Harness
) -> None:
    """One video session is shown photos and their mirror images in turn, with an empty frame
    between them, so its view switches back and forth and its second landmarker is reused;
    each hand must come out as it would for a client that had just connected."""
    harness = stage_harness(HandsStage, {"view": "right_hand"}, base_dir=PIPELINES)
    blank = Image(np.zeros((240, 320, 3), np.uint8))
    same = both = 0
    with harness.session() as long_lived:
        for photo in photos[::4]:
            rgb = photo.rgb()
            for image in (Image(np.ascontiguousarray(rgb[:, ::-1])), Image(rgb)):
                assert long_lived.process(blank) is None
                seen = long_lived.process(image)
                with harness.session() as newcomer:
                    expected = newcomer.process(image)
                if seen is not None and expected is not None:
                    both += 1
                    same += bool(np.allclose(seen.landmarks, expected.landmarks, atol=1e-6))
    print(f"\nthe same hand as a new session's in {same} of {both}")
    assert both >= 25
    assert same >= 0.9 * both


@pytest.mark.parametrize("mode", ["image", "video"])
def test_a_blank_image_has_no_hand(stage_harness: Harness, mode: str) -> None:
    session = stage_harness(HandsStage, {"mode": mode}, base_dir=PIPELINES).session()
    for shade in (0, 128, 255):
        assert session.process(Image(np.full((240, 320, 3), shade, np.uint8))) is None


@pytest.mark.parametrize(
    ("value", "name"), [(0, "lite"), (1, "full"), ("0", "lite"), ("1", "full")]
)
def test_the_predecessors_model_complexity_maps_to_lite_and_full(
    stage_harness: Harness, value: int | str, name: str
) -> None:
    assert HandsParams.model_validate({"model": value}).model == name
    stage = stage_harness(HandsStage, {"model": value}, base_dir=PIPELINES).stage
    assert isinstance(stage, HandsStage)
    assert stage.bundle_path.name == f"hand_landmarker_{name}.task"


def test_mediapipe_model_complexity_in_the_environment_selects_the_bundle(
    host: PluginHost, classifier: Path
) -> None:
    plan = plan_pipeline(
        PIPELINES / "default.yaml", host.registry, environ={"MEDIAPIPE_MODEL_COMPLEXITY": "0"}
    )
    hands = next(node for node in plan.nodes if node.id == "hands")
    assert isinstance(hands.params, HandsParams) and hands.params.model == "lite"
    assert hands.provenance["model"] != "default"


def test_an_unknown_model_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        HandsParams.model_validate({"model": 2})


def write_pipeline(folder: Path, hands_params: str) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(
        "name: bundle-test\n"
        "nodes:\n"
        "  - id: decode\n"
        "    stage: decode\n"
        "  - id: hands\n"
        "    stage: hands\n"
        "    params:\n"
        f"      {hands_params}\n",
        encoding="utf-8",
    )
    return path


def test_a_corrupt_bundle_is_a_configuration_error_naming_the_file(
    tmp_path: Path, stage_harness: Harness
) -> None:
    garbage = tmp_path / "garbage.task"
    garbage.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(StageConfigError, match=r"garbage\.task") as caught:
        stage_harness(HandsStage, {"bundle": str(garbage)})
    assert caught.value.param == "bundle"


def test_a_corrupt_bundle_in_a_pipeline_fails_validation_at_the_bundle_line(
    tmp_path: Path, host: PluginHost
) -> None:
    (tmp_path / "garbage.task").write_bytes(b"PK\x03\x04 this is no zip archive" * 40)
    path = write_pipeline(tmp_path, "bundle: garbage.task")
    plan = plan_pipeline(path, host.registry)
    with pytest.raises(PipelineInvalid) as caught:
        build_graph(plan, host)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 8)
    assert "garbage.task" in problem.message and "hands" in problem.message


def test_a_missing_bundle_fails_validation_before_anything_loads(
    tmp_path: Path, host: PluginHost
) -> None:
    path = write_pipeline(tmp_path, "bundle: nowhere/missing.task")
    with pytest.raises(PipelineInvalid) as caught:
        plan_pipeline(path, host.registry)
    (problem,) = caught.value.problems
    assert problem.line == 8
    assert "missing.task" in problem.message and "does not exist" in problem.message


def test_a_models_dir_without_the_bundle_is_a_validation_error_naming_the_parameter(
    tmp_path: Path, host: PluginHost
) -> None:
    path = write_pipeline(tmp_path, "models_dir: empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineInvalid) as caught:
        plan_pipeline(path, host.registry)  # before any model is loaded
    (problem,) = caught.value.problems
    assert problem.message.startswith("hands.models_dir: no MediaPipe bundle")
    assert "hand_landmarker_full.task" in problem.message
