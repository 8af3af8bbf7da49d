"""``emit``: the reply's fields, and the throttle driven by the engine's frame timestamps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from signify_stages.emit import EmitStage

from signify_graph import Hand, Probabilities
from signify_graph.testing import HarnessSession, StageHarness

LABELS = ("A", "B", "C", "D")


def probs(*values: float, frames: int = 5) -> Probabilities:
    return Probabilities(np.array(values, np.float32), LABELS, frames)


A_SURE = probs(0.75, 0.1875, 0.0625, 0.0)
A_SURER = probs(0.875, 0.0625, 0.0625, 0.0)
A_ALMOST_SAME = probs(0.765625, 0.171875, 0.0625, 0.0)  # +0.015625 < 0.03
B_SURE = probs(0.125, 0.75, 0.125, 0.0)


@pytest.fixture
def emit(stage_harness: Callable[..., StageHarness]) -> Callable[..., HarnessSession]:
    def make(**params: Any) -> HarnessSession:
        return stage_harness(EmitStage, params).session()

    return make


def test_a_reply_has_the_predecessors_fields_and_the_explicit_ones(
    emit: Callable[..., HarnessSession],
) -> None:
    reply = emit().process(A_SURE, timestamp_ms=0)
    assert reply == {
        "maxarg_letter": "A",
        "target_arg_prob": 0.75,
        "status": "ok",
        "letter": "A",
        "confidence": 0.75,
        "target": None,
        "top": [
            {"letter": "A", "p": 0.75},
            {"letter": "B", "p": 0.1875},
            {"letter": "C", "p": 0.0625},
        ],
        "frames": 5,
        "seq": 1,
    }


def test_replies_closer_than_min_interval_are_held_back_even_when_they_change(
    emit: Callable[..., HarnessSession],
) -> None:
    session = emit(min_interval_ms=75)
    assert session.process(A_SURE, timestamp_ms=0) is not None
    assert session.process(B_SURE, timestamp_ms=74) is None
    reply = session.process(B_SURE, timestamp_ms=75)
    assert reply is not None and reply["letter"] == "B"


def test_after_min_interval_only_news_is_sent(emit: Callable[..., HarnessSession]) -> None:
    session = emit(min_interval_ms=75, min_prob_delta=0.03, heartbeat_ms=0)
    assert session.process(A_SURE, timestamp_ms=0) is not None
    assert session.process(A_ALMOST_SAME, timestamp_ms=100) is None  # Δp 0.016 ≤ 0.03
    assert session.process(A_SURE, timestamp_ms=10_000) is None  # unchanged, no heartbeat
    assert session.process(A_SURER, timestamp_ms=10_100) is not None  # Δp 0.125
    assert session.process(None, timestamp_ms=10_200)["status"] == "no_hand"  # status changed


def test_the_probability_delta_is_measured_from_the_last_sent_reply(
    emit: Callable[..., HarnessSession],
) -> None:
    """Creeping changes add up: each step is small, but the sum since the last reply is not."""
    session = emit(min_interval_ms=0, min_prob_delta=0.03, heartbeat_ms=0)
    session.process(A_SURE, timestamp_ms=0)
    assert session.process(A_ALMOST_SAME, timestamp_ms=10) is None
    creep = probs(0.78125, 0.15625, 0.0625, 0.0)  # 0.03125 above the last reply
    assert session.process(creep, timestamp_ms=20) is not None


def test_a_heartbeat_repeats_an_unchanged_reply(emit: Callable[..., HarnessSession]) -> None:
    session = emit(min_interval_ms=75, heartbeat_ms=1000)
    sent = [t for t in range(0, 3001, 100) if session.process(A_SURE, timestamp_ms=t) is not None]
    assert sent == [0, 1000, 2000, 3000]


def test_min_interval_zero_and_no_delta_sends_every_frame(
    emit: Callable[..., HarnessSession],
) -> None:
    session = emit(min_interval_ms=0, min_prob_delta=0.0)
    replies = [session.process(p) for p in (A_SURE, A_SURER, A_SURE, B_SURE)]
    assert all(reply is not None for reply in replies)


def test_status_is_warming_up_until_min_frames_then_ok_and_no_hand_without_one(
    emit: Callable[..., HarnessSession],
) -> None:
    session = emit(min_interval_ms=0, min_frames=3)
    assert session.process(probs(1, 0, 0, 0, frames=1))["status"] == "warming_up"
    assert session.process(probs(0, 1, 0, 0, frames=2))["status"] == "warming_up"
    assert session.process(probs(0, 0, 1, 0, frames=3))["status"] == "ok"
    reply = session.process(None)
    assert reply["status"] == "no_hand"
    assert (reply["letter"], reply["maxarg_letter"], reply["top"]) == (None, None, [])
    assert reply["target_arg_prob"] == 0.0 and reply["frames"] == 0


def test_a_target_set_by_reset_is_reported_with_its_probability(
    emit: Callable[..., HarnessSession],
) -> None:
    session = emit(min_interval_ms=0)
    assert session.process(A_SURE)["target_arg_prob"] == 0.75  # no target: the top letter
    session.reset("B")
    reply = session.process(A_SURE)
    assert (reply["target"], reply["target_arg_prob"], reply["letter"]) == ("B", 0.1875, "A")
    assert session.process(B_SURE)["target_arg_prob"] == 0.75
    session.reset(None)
    reply = session.process(probs(0.25, 0.125, 0.625, 0.0))
    assert (reply["target"], reply["target_arg_prob"]) == (None, 0.625)


def test_a_reset_sends_the_next_reply_at_once(emit: Callable[..., HarnessSession]) -> None:
    session = emit(min_interval_ms=75)
    assert session.process(A_SURE, timestamp_ms=0) is not None
    session.reset("C")
    reply = session.process(A_SURE, timestamp_ms=10)
    assert reply is not None and reply["target"] == "C"


def test_seq_is_the_frames_number_in_the_session_even_after_held_back_frames(
    emit: Callable[..., HarnessSession],
) -> None:
    session = emit(min_interval_ms=75)
    seqs = [session.process(p, timestamp_ms=t) for t, p in enumerate([A_SURE, B_SURE, A_SURE])]
    assert seqs[0] is not None and seqs[0]["seq"] == 1
    assert session.process(B_SURE, timestamp_ms=200)["seq"] == 4


@pytest.mark.parametrize("k", [0, 1, 4, 10])
def test_top_k_lists_the_k_best_letters_best_first(
    emit: Callable[..., HarnessSession], k: int
) -> None:
    top = emit(top_k=k).process(probs(0.125, 0.5, 0.0, 0.375))["top"]
    assert [item["letter"] for item in top] == ["B", "D", "A", "C"][:k]
    assert [item["p"] for item in top] == [0.5, 0.375, 0.125, 0.0][:k]


def test_include_landmarks_adds_the_hands_points(
    emit: Callable[..., HarnessSession], real_hands: list[Hand]
) -> None:
    hand = real_hands[0]
    session = emit(include_landmarks=True, min_interval_ms=0)
    reply = session.process(A_SURE, hand)
    assert np.allclose(reply["landmarks"], hand.landmarks, atol=1e-4)
    assert len(reply["landmarks"]) == 21 and len(reply["landmarks"][0]) == 3
    assert session.process(None, None)["landmarks"] is None
    assert "landmarks" not in emit().process(A_SURE, hand)
