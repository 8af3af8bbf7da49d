"""``classify``: the trained ONNX model in ``models/``, its window, and refusing bad models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
from signify_stages.classify import ClassifyStage
from signify_stages.normalize import (
    CHIRAL_CONTRACT,
    CONTRACT,
    N_FEATURES,
    NormalizeStage,
    normalize_batch,
)

from signify_graph import (
    Features,
    Hand,
    Kind,
    PipelineInvalid,
    PluginHost,
    Probabilities,
    StageConfigError,
    build_graph,
    plan_pipeline,
)
from signify_graph.testing import HarnessSession, StageHarness

from .conftest import PIPELINES, Photo

Harness = Callable[..., StageHarness]


@pytest.fixture(scope="module")
def stage(classifier: Path) -> ClassifyStage:
    with StageHarness(NormalizeStage) as normalize:
        harness = StageHarness(
            ClassifyStage, {"model": str(classifier)}, sources={"features": normalize.stage}
        )
    assert isinstance(harness.stage, ClassifyStage)
    return harness.stage


@pytest.fixture(scope="module")
def reference(classifier: Path) -> Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
    """The model run directly on an explicit window (T, 66), without the stage."""
    session = ort.InferenceSession(str(classifier), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(window: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        (out,) = session.run(None, {name: window[None].astype(np.float32)})
        result: npt.NDArray[np.float32] = out[0]
        return result

    return run


@pytest.fixture(scope="module")
def frames(real_hands: list[Hand]) -> npt.NDArray[np.float32]:
    """Features of real hands, one per committed photo with a hand."""
    return normalize_batch(np.stack([hand.landmarks for hand in real_hands]))


def session_of(stage: ClassifyStage) -> HarnessSession:
    return HarnessSession(stage.open("test"), "test")


def feed(session: HarnessSession, values: npt.NDArray[np.float32]) -> Probabilities:
    result = session.process(Features(values, CONTRACT))
    assert isinstance(result, Probabilities)
    return result


def test_labels_window_and_normalisation_come_from_the_models_metadata(
    stage: ClassifyStage, classifier: Path
) -> None:
    meta = ort.InferenceSession(str(classifier)).get_modelmeta().custom_metadata_map
    assert stage.labels == tuple(json.loads(meta["labels"]))
    assert stage.window == int(meta["window"]) >= 1
    assert stage.normalization == meta["normalization"] == CONTRACT
    assert len(set(stage.labels)) == len(stage.labels) >= 24
    assert stage.n_features == N_FEATURES


def test_probabilities_sum_to_one_over_the_labels(
    stage: ClassifyStage, frames: npt.NDArray[np.float32]
) -> None:
    session = session_of(stage)
    for values in frames[:20]:
        result = feed(session, values)
        assert result.labels == stage.labels
        assert result.values.shape == (len(stage.labels),)
        assert float(result.values.sum()) == pytest.approx(1.0, abs=1e-5)
        assert float(result.values.min()) >= 0.0


def test_the_first_frame_fills_the_whole_window(
    stage: ClassifyStage, frames: npt.NDArray[np.float32], reference: Callable[..., npt.NDArray]
) -> None:
    result = feed(session_of(stage), frames[0])
    expected = reference(np.repeat(frames[:1], stage.window, axis=0))
    np.testing.assert_allclose(result.values, expected, atol=1e-6)
    assert result.frames == 1


def test_the_window_slides_over_the_last_t_frames(
    stage: ClassifyStage, frames: npt.NDArray[np.float32], reference: Callable[..., npt.NDArray]
) -> None:
    session, t = session_of(stage), stage.window
    sequence = frames[: t + 3]
    results = [feed(session, values) for values in sequence]
    for k in range(1, len(sequence)):  # after k + 1 frames
        window = sequence[max(0, k + 1 - t) : k + 1]
        padded = np.concatenate([np.repeat(window[:1], t - len(window), axis=0), window])
        np.testing.assert_allclose(results[k].values, reference(padded), atol=1e-6)
        assert results[k].frames == min(k + 1, t)


def test_reset_starts_a_new_window(stage: ClassifyStage, frames: npt.NDArray[np.float32]) -> None:
    fresh = feed(session_of(stage), frames[5]).values
    session = session_of(stage)
    for values in frames[:4]:
        feed(session, values)
    session.reset("A")
    result = feed(session, frames[5])
    np.testing.assert_allclose(result.values, fresh, atol=1e-6)
    assert result.frames == 1


def test_a_frame_without_a_hand_gives_none_and_starts_a_new_window(
    stage: ClassifyStage, frames: npt.NDArray[np.float32]
) -> None:
    fresh = feed(session_of(stage), frames[5]).values
    session = session_of(stage)
    for values in frames[:4]:
        feed(session, values)
    assert session.process(None) is None
    result = feed(session, frames[5])
    np.testing.assert_allclose(result.values, fresh, atol=1e-6)
    assert result.frames == 1


def test_sessions_keep_separate_windows(
    stage: ClassifyStage, frames: npt.NDArray[np.float32]
) -> None:
    alone = feed(session_of(stage), frames[1]).values
    first, second = session_of(stage), session_of(stage)
    feed(first, frames[0])
    np.testing.assert_allclose(feed(second, frames[1]).values, alone, atol=1e-6)
    assert feed(first, frames[1]).frames == 2


def test_the_model_names_most_photo_letters_from_single_frames(
    stage: ClassifyStage, photos: list[Photo], padded_hands: list[Hand | None]
) -> None:
    """A sanity floor for the model on its own; the pipeline tests measure the real thing."""
    pairs = [(p.letter, h) for p, h in zip(photos, padded_hands, strict=True) if h is not None]
    hits = 0
    for letter, hand in pairs:
        values = normalize_batch(hand.landmarks, hand.aspect)[0]
        hits += feed(session_of(stage), values).top()[0] == letter
    print(f"\nclassify on {len(pairs)} photo hands (window of one repeated frame): {hits}")
    assert hits / len(pairs) >= 0.7  # measured 63/69 with the first trained model


def write_pipeline(folder: Path, model: str, mirror_invariant: str = "true") -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(
        "name: classify-test\n"  # 1
        "nodes:\n"  # 2
        "  - id: landmarks\n"  # 3
        "    stage: landmarks\n"  # 4
        "  - id: normalize\n"  # 5
        "    stage: normalize\n"  # 6
        "    params:\n"  # 7
        f"      mirror_invariant: {mirror_invariant}\n"  # 8
        "  - id: classify\n"  # 9
        "    stage: classify\n"  # 10
        "    params:\n"  # 11
        f"      model: {model}\n",  # 12, the value at column 14
        encoding="utf-8",
    )
    return path


def test_a_missing_model_file_is_a_validation_error_naming_it(
    tmp_path: Path, host: PluginHost
) -> None:
    path = write_pipeline(tmp_path, "models/nothing-here.onnx")
    with pytest.raises(PipelineInvalid) as caught:
        plan_pipeline(path, host.registry)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 12, 14)
    assert "nothing-here.onnx" in problem.message and "does not exist" in problem.message


def test_a_corrupt_model_fails_validation_at_the_model_parameter(
    tmp_path: Path, host: PluginHost
) -> None:
    rng = np.random.default_rng(11)
    (tmp_path / "corrupt.onnx").write_bytes(rng.integers(0, 256, 20_000, np.uint8).tobytes())
    path = write_pipeline(tmp_path, "corrupt.onnx")
    plan = plan_pipeline(path, host.registry)
    with pytest.raises(PipelineInvalid) as caught:
        build_graph(plan, host)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 12, 14)
    assert str(problem).startswith(f"{path}:12:14: classify: cannot load ONNX model")
    assert "corrupt.onnx" in problem.message


def test_a_corrupt_model_is_a_configuration_error_for_the_stage_alone(
    tmp_path: Path, stage_harness: Harness
) -> None:
    model = tmp_path / "corrupt.onnx"
    model.write_bytes(b"\x08\x07" + bytes(range(256)) * 10)
    with pytest.raises(StageConfigError) as caught:
        stage_harness(ClassifyStage, {"model": str(model)})
    assert caught.value.param == "model"


def test_a_normalisation_the_model_was_not_trained_on_fails_validation(
    tmp_path: Path, host: PluginHost, classifier: Path
) -> None:
    path = write_pipeline(tmp_path, str(classifier), mirror_invariant="false")
    with pytest.raises(PipelineInvalid) as caught:
        build_graph(plan_pipeline(path, host.registry), host)
    (problem,) = caught.value.problems
    assert f"'{CONTRACT}'" in problem.message and f"'{CHIRAL_CONTRACT}'" in problem.message
    assert problem.message.startswith("classify: ")


def test_the_shipped_pipelines_refuse_a_chiral_normalize_override(
    host: PluginHost, classifier: Path
) -> None:
    plan = plan_pipeline(
        PIPELINES / "landmarks.yaml", host.registry, overrides=["normalize.mirror_invariant=false"]
    )
    with pytest.raises(PipelineInvalid, match=CHIRAL_CONTRACT):
        build_graph(plan, host)


@pytest.mark.parametrize("depth", ["with depth", "without depth (a 2-D client)"])
def test_the_served_landmark_pipeline_answers_a_hand_and_its_mirror_image_identically(
    host: PluginHost, real_hands: list[Hand], depth: str
) -> None:
    """Mirror invariance, end to end: the landmarks pipeline (landmarks → normalize →
    classify → smooth → emit) with the shipped model gives the same letter and the same
    probabilities (to float32 rounding) for a hand and its mirror image (x → 1 − x), with z and
    with every z = 0."""
    graph = build_graph(plan_pipeline(PIPELINES / "landmarks.yaml", host.registry), host)
    slot = graph.last_slot(Kind.PROBABILITIES)
    try:
        for index, hand in enumerate(real_hands):
            points = hand.landmarks.astype(np.float64)
            if depth != "with depth":
                points[:, 2] = 0.0
            flipped = points.copy()
            flipped[:, 0] = 1.0 - flipped[:, 0]
            letters, probabilities = [], []
            for view in (points, flipped):
                with graph.open_session(f"mirror-{index}") as session:
                    result = session.process({"landmarks": view.tolist()})
                    assert result.error is None
                    letters.append(result.values[-1]["letter"])
                    probabilities.append(result.values[slot].values)
            assert letters[0] is not None and letters[0] == letters[1]
            # 1 − x is not exact in floating point; through an LSTM that is ~1e-6
            np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-5)
    finally:
        graph.close()
