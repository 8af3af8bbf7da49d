"""``average``: two probability vectors into one, and what happens when one is missing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from signify_stages.average import AverageStage

from signify_graph import Probabilities, StageConfigError, StageError
from signify_graph.testing import HarnessSession, StageHarness

LABELS = ("A", "B", "C", "D")


def probs(*values: float, frames: int = 1, labels: tuple[str, ...] = LABELS) -> Probabilities:
    return Probabilities(np.array(values, np.float32), labels, frames)


@pytest.fixture
def average(stage_harness: Callable[..., StageHarness]) -> Callable[..., HarnessSession]:
    def make(**params: float) -> HarnessSession:
        return stage_harness(AverageStage, params).session()

    return make


def test_the_mean_of_two_views_weighs_them_equally(
    average: Callable[..., HarnessSession],
) -> None:
    result = average().process(probs(1, 0, 0, 0), probs(0, 0.5, 0.5, 0))
    assert result.labels == LABELS
    assert result.values.tolist() == [0.5, 0.25, 0.25, 0.0]
    assert result.values.dtype == np.float32


def test_swapping_the_inputs_gives_the_same_answer(
    average: Callable[..., HarnessSession],
) -> None:
    """What makes a two-view pipeline mirror-symmetric: mirroring swaps the two views."""
    rng = np.random.default_rng(0)
    session = average()
    for _ in range(50):
        a, b = (rng.dirichlet(np.ones(4)).astype(np.float32) for _ in range(2))
        one = session.process(probs(*a), probs(*b))
        other = session.process(probs(*b), probs(*a))
        assert np.array_equal(one.values, other.values)


def test_a_weight_leans_toward_the_first_input(average: Callable[..., HarnessSession]) -> None:
    result = average(weight=0.75).process(probs(1, 0, 0, 0), probs(0, 0, 0, 1))
    assert result.values.tolist() == [0.75, 0.0, 0.0, 0.25]


def test_a_view_without_a_hand_leaves_the_other_view_as_it_is(
    average: Callable[..., HarnessSession],
) -> None:
    session = average()
    only = probs(0, 1, 0, 0, frames=3)
    assert session.process(only, None) is only
    assert session.process(None, only) is only
    assert session.process(None, None) is None


def test_the_frame_count_is_the_larger_of_the_two(average: Callable[..., HarnessSession]) -> None:
    result = average().process(probs(1, 0, 0, 0, frames=2), probs(1, 0, 0, 0, frames=5))
    assert result.frames == 5


def test_inputs_over_different_labels_are_refused_with_a_code(
    average: Callable[..., HarnessSession],
) -> None:
    with pytest.raises(StageError) as caught:
        average().process(probs(1, 0, 0, 0), probs(1, 0, 0, labels=("A", "B", "C")))
    assert caught.value.code == "label_mismatch"
    assert "different labels" in caught.value.message


def test_a_weight_outside_zero_to_one_is_refused(
    stage_harness: Callable[..., StageHarness],
) -> None:
    with pytest.raises(StageConfigError, match=r"^test_average\.weight: .*\(got 1\.5\)$"):
        stage_harness(AverageStage, {"weight": 1.5})
