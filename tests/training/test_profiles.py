"""The profiles behind the model card's explanation of the leave-one-source-out misses."""

from __future__ import annotations

from training.data import load
from training.profiles import differs, profile, typical_form


def test_boris_signs_p_pointing_down_and_nejohnson_pointing_up_with_the_middle_finger_curled():
    boris, nejohnson = (profile(load(name), "P") for name in ("boris", "nejohnson"))
    assert boris is not None and nejohnson is not None
    assert boris["pointing"] > 150 and boris["middle"] > 2.0
    assert nejohnson["pointing"] < 30 and nejohnson["middle"] < 1.0


def test_a_source_without_the_letter_has_no_profile():
    assert profile(load("img_AbdulM09"), "Z") is None


def test_a_form_differs_by_a_straight_against_a_curled_finger_60_degrees_or_the_thumb():
    straight = {
        "index": 2.0,
        "middle": 2.0,
        "ring": 0.7,
        "pinky": 0.7,
        "pointing": 10.0,
        "thumb_at": "ring",
        "thumb_out": 0.5,
    }
    assert not differs({**straight, "middle": 1.2}, straight)
    assert differs({**straight, "middle": 0.9}, straight)
    assert not differs({**straight, "pointing": 65.0}, straight)
    assert differs({**straight, "pointing": 75.0}, straight)
    assert differs({**straight, "thumb_at": "index"}, straight)


def test_the_typical_form_is_the_median_and_the_commonest_thumb():
    forms = [
        {
            "index": i,
            "middle": 1.0,
            "ring": 1.0,
            "pinky": 1.0,
            "pointing": 10.0 * i,
            "thumb_at": t,
            "thumb_out": 0.5,
        }
        for i, t in [(1.0, "ring"), (2.0, "ring"), (3.0, "index")]
    ]
    typical = typical_form(forms)
    assert typical["index"] == 2.0 and typical["pointing"] == 20.0 and typical["thumb_at"] == "ring"
