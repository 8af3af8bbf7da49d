"""The model card's explanation of the leave-one-source-out misses, checked on the committed
training data: the sources form G, H, J, P, Q and X differently, and agree on the rest."""

from __future__ import annotations

from training.data import TRAIN_SOURCES, load, load_many
from training.profiles import differing_letters, disagree, profile


def test_the_sources_form_exactly_these_letters_differently():
    assert differing_letters(load_many(TRAIN_SOURCES)) == ["G", "H", "J", "P", "Q", "X"]


def test_boris_signs_p_pointing_down_and_nejohnson_pointing_up_with_the_middle_finger_curled():
    boris, nejohnson = (profile(load(name), "P") for name in ("boris", "nejohnson"))
    assert boris is not None and nejohnson is not None
    assert boris["pointing"] > 150 and boris["middle"] > 2.0
    assert nejohnson["pointing"] < 30 and nejohnson["middle"] < 1.0


def test_disagreement_needs_a_straight_and_a_curled_finger_or_60_degrees():
    straight = {"index": 2.0, "middle": 2.0, "ring": 0.7, "pinky": 0.7, "pointing": 10.0}
    bent = {**straight, "middle": 1.2}
    assert not disagree([straight, bent])
    assert disagree([straight, {**straight, "middle": 0.9}])
    assert not disagree([straight, {**straight, "pointing": 65.0}])
    assert disagree([straight, {**straight, "pointing": 75.0}])
