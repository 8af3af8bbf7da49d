"""Tests of the confidence gate, through the fixtures signify-graph's pytest plugin provides."""

from __future__ import annotations

import numpy as np
import pytest
from signify_graph import Probabilities, StageConfigError
from signify_graph.testing import check_stage_contract

from signify_example_plugin import ConfidenceGateStage

LABELS = ("A", "B", "C")


def probs(*values: float) -> Probabilities:
    return Probabilities(np.array(values, np.float32), LABELS)


def test_the_stage_keeps_the_contract_and_documents_its_parameters():
    check_stage_contract(ConfidenceGateStage)


def test_sure_predictions_pass_and_unsure_ones_become_none(stage_harness):
    with stage_harness(ConfidenceGateStage, {"threshold": 0.5}).session() as session:
        sure = probs(0.8, 0.1, 0.1)
        assert session.process(sure) is sure
        assert session.process(probs(0.4, 0.35, 0.25)) is None
        assert session.process(probs(0.5, 0.3, 0.2)) is not None  # the threshold itself passes


def test_no_hand_stays_no_hand(stage_harness):
    with stage_harness(ConfidenceGateStage).session() as session:
        assert session.process(None) is None


def test_hold_lets_a_few_unsure_frames_through_after_a_sure_one(stage_harness):
    session = stage_harness(ConfidenceGateStage, {"threshold": 0.7, "hold": 2}).session()
    unsure = probs(0.5, 0.3, 0.2)
    assert session.process(unsure) is None
    assert session.process(probs(0.9, 0.05, 0.05)) is not None
    assert [session.process(unsure) is not None for _ in range(3)] == [True, True, False]


def test_reset_ends_the_hold_of_that_session_only(stage_harness):
    harness = stage_harness(ConfidenceGateStage, {"threshold": 0.7, "hold": 5})
    one, two = harness.session(), harness.session()
    for session in (one, two):
        session.process(probs(0.9, 0.05, 0.05))
    one.reset()
    unsure = probs(0.5, 0.3, 0.2)
    assert one.process(unsure) is None
    assert two.process(unsure) is unsure


def test_a_hand_less_frame_ends_the_hold(stage_harness):
    session = stage_harness(ConfidenceGateStage, {"threshold": 0.7, "hold": 5}).session()
    session.process(probs(0.9, 0.05, 0.05))
    session.process(None)
    assert session.process(probs(0.5, 0.3, 0.2)) is None


@pytest.mark.parametrize("params", [{"threshold": 1.5}, {"hold": -1}, {"treshold": 0.5}])
def test_bad_parameters_are_refused(stage_harness, params):
    # The harness validates like a pipeline and says what a pipeline would say.
    with pytest.raises(StageConfigError, match="test_confidence_gate"):
        stage_harness(ConfidenceGateStage, params)


def test_the_installed_plugin_is_found_by_the_host(signify_host):
    info = signify_host.registry.get("confidence_gate")
    assert info is not None
    assert info.provider == "signify-example-plugin (confidence_gate)"
