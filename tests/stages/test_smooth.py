"""``smooth``: the arithmetic of the mean and the EMA, and when history is forgotten.

Probabilities are multiples of 1/8, so float32 sums are exact and results compare with ``==``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from signify_stages.smooth import SmoothStage

from signify_graph import Probabilities
from signify_graph.testing import HarnessSession, StageHarness

LABELS = ("A", "B", "C", "D")


def probs(*values: float, frames: int = 1) -> Probabilities:
    return Probabilities(np.array(values, np.float32), LABELS, frames)


P1, P2, P3, P4 = (
    probs(1, 0, 0, 0),
    probs(0, 0.5, 0.5, 0),
    probs(0.25, 0.25, 0.25, 0.25),
    probs(0, 0, 0, 1),
)


@pytest.fixture
def smooth(stage_harness: Callable[..., StageHarness]) -> Callable[..., HarnessSession]:
    def make(**params: Any) -> HarnessSession:
        return stage_harness(SmoothStage, params).session()

    return make


def values(result: Probabilities | None) -> list[float]:
    assert result is not None
    out: list[float] = result.values.tolist()
    return out


def mean(*items: Probabilities) -> list[float]:
    out: list[float] = (sum(p.values for p in items) / len(items)).tolist()
    return out


def test_mean_averages_the_last_window_vectors_exactly(smooth: Callable[..., Any]) -> None:
    session = smooth(window=3)
    assert values(session.process(P1)) == mean(P1)
    assert values(session.process(P2)) == mean(P1, P2)
    assert values(session.process(P3)) == mean(P1, P2, P3)
    assert values(session.process(P4)) == mean(P2, P3, P4)  # P1 left the window
    result = session.process(P1)
    assert values(result) == mean(P3, P4, P1)
    assert result.labels == LABELS and result.frames == 3


def test_frames_counts_the_vectors_behind_the_answer(smooth: Callable[..., Any]) -> None:
    session = smooth(window=4)
    assert [session.process(P1).frames for _ in range(6)] == [1, 2, 3, 4, 4, 4]


def test_ema_decays_older_frames_by_alpha(smooth: Callable[..., Any]) -> None:
    session = smooth(method="ema", alpha=0.5)
    assert values(session.process(P1)) == values(P1)
    assert values(session.process(P4)) == [0.5, 0, 0, 0.5]
    assert values(session.process(P4)) == [0.25, 0, 0, 0.75]
    assert values(session.process(P2)) == [0.125, 0.25, 0.25, 0.375]


def test_ema_alpha_defaults_to_two_over_window_plus_one(smooth: Callable[..., Any]) -> None:
    session = smooth(method="ema", window=3)  # alpha = 0.5
    session.process(P1)
    assert values(session.process(P4)) == [0.5, 0, 0, 0.5]


@pytest.mark.parametrize("method", ["mean", "ema"])
def test_history_survives_fewer_than_clear_after_handless_frames(
    smooth: Callable[..., Any], method: str
) -> None:
    session = smooth(window=4, method=method, alpha=0.5, clear_after=3)
    session.process(P1)
    assert session.process(None) is None
    assert session.process(None) is None
    assert values(session.process(P4)) == [0.5, 0, 0, 0.5]


@pytest.mark.parametrize("method", ["mean", "ema"])
def test_history_is_cleared_after_clear_after_handless_frames(
    smooth: Callable[..., Any], method: str
) -> None:
    session = smooth(window=4, method=method, alpha=0.5, clear_after=3)
    session.process(P1)
    session.process(P2)
    for _ in range(3):
        assert session.process(None) is None
    result = session.process(P4)
    assert values(result) == values(P4) and result.frames == 1


@pytest.mark.parametrize("method", ["mean", "ema"])
def test_reset_clears_the_history_at_once(smooth: Callable[..., Any], method: str) -> None:
    session = smooth(window=4, method=method)
    session.process(P1)
    session.process(P2)
    session.reset("B")
    result = session.process(P3)
    assert values(result) == values(P3) and result.frames == 1


def test_sessions_smooth_independently(stage_harness: Callable[..., StageHarness]) -> None:
    harness = stage_harness(SmoothStage, {"window": 2})
    first, second = harness.session(), harness.session()
    first.process(P1)
    second.process(P4)
    assert values(first.process(P2)) == mean(P1, P2)
    assert values(second.process(P3)) == mean(P4, P3)
    second.reset()
    assert values(first.process(P3)) == mean(P2, P3)
