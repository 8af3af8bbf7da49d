"""``spell``: when a letter counts, double letters, spaces — all in ms of the frames' own
timestamps, so the same gestures spell the same text at 10, 15 or 30 frames a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from signify_stages.emit import EmitStage
from signify_stages.spell import SpellStage

from signify_graph import Hand, Probabilities, Spelling, TextEdit
from signify_graph.testing import HarnessSession, StageHarness, check_stage_contract

LABELS = ("A", "B", "L", "O")
#: A gesture script: (letter or None for no hand, confidence, duration in ms, wrist x).
Script = list[tuple[str | None, float, int, float]]


def probs(letter: str, confidence: float = 0.9) -> Probabilities:
    values = np.full(len(LABELS), (1 - confidence) / (len(LABELS) - 1), np.float32)
    values[LABELS.index(letter)] = confidence
    return Probabilities(values, LABELS, 5)


def hand(x: float = 0.5) -> Hand:
    """A hand whose wrist is at (x, 0.5) and whose size (wrist to knuckle) is 0.1."""
    points = np.zeros((21, 3), np.float32)
    points[:, 0], points[:, 1] = x, 0.5
    points[9, 1] = 0.4
    return Hand(points)


@pytest.fixture
def spell(stage_harness: Callable[..., StageHarness]) -> Callable[..., HarnessSession]:
    def make(**params: Any) -> HarnessSession:
        return stage_harness(SpellStage, params).session()

    return make


def play(session: HarnessSession, script: Script, fps: float, start: int = 0) -> list[Spelling]:
    """Feed ``script`` sampled at ``fps``; frame timestamps in ms, as the engine gives them."""
    out: list[Spelling] = []
    t, end = float(start), float(start)
    for letter, confidence, duration, x in script:
        end += duration
        while t < end:
            frame = None if letter is None else probs(letter, confidence)
            hand_now = None if letter is None else hand(x)
            out.append(session.process(frame, hand_now, timestamp_ms=round(t)))
            t += 1000 / fps
    return out


def text(results: list[Spelling]) -> str:
    return results[-1].text


def test_spell_keeps_the_stage_contract() -> None:
    check_stage_contract(SpellStage)


def test_a_letter_is_pending_with_progress_then_committed_after_hold_ms(spell) -> None:
    session = spell(hold_ms=600)
    first = session.process(probs("A"), hand(), timestamp_ms=1000)
    assert first == Spelling("", "", "A", 0.0)
    half = session.process(probs("A"), hand(), timestamp_ms=1300)
    assert (half.pending, half.progress, half.committed) == ("A", 0.5, "")
    assert session.process(probs("A"), hand(), timestamp_ms=1599).committed == ""
    done = session.process(probs("A"), hand(), timestamp_ms=1600)
    assert done == Spelling("A", "A", None, 0.0)


def test_a_letter_held_on_is_committed_once(spell) -> None:
    results = play(spell(), [("A", 0.9, 5000, 0.5)], fps=30)
    assert text(results) == "A"
    assert sum(r.committed == "A" for r in results) == 1
    assert all(r.pending is None for r in results if r.text == "A")


def test_a_letter_below_min_confidence_is_never_pending(spell) -> None:
    results = play(spell(min_confidence=0.6), [("A", 0.5, 3000, 0.5)], fps=30)
    assert text(results) == "" and all(r.pending is None for r in results)


def test_a_letter_that_changes_before_hold_ms_commits_nothing(spell) -> None:
    script: Script = [("A", 0.9, 400, 0.5), ("B", 0.9, 400, 0.5), ("A", 0.9, 400, 0.5)]
    assert text(play(spell(hold_ms=600), script, fps=30)) == ""


def test_a_release_then_the_same_letter_again_commits_a_double_letter(spell) -> None:
    script: Script = [("L", 0.9, 800, 0.5), ("L", 0.3, 150, 0.5), ("L", 0.9, 800, 0.5)]
    assert text(play(spell(), script, fps=30)) == "LL"


def test_the_hand_leaving_briefly_is_a_release_too(spell) -> None:
    script: Script = [("L", 0.9, 800, 0.5), (None, 0, 200, 0), ("L", 0.9, 800, 0.5)]
    assert text(play(spell(pause_ms=1000), script, fps=30)) == "LL"


def test_a_release_shorter_than_release_ms_is_no_double_letter(spell) -> None:
    script: Script = [("L", 0.9, 800, 0.5), ("L", 0.3, 60, 0.5), ("L", 0.9, 1500, 0.5)]
    assert text(play(spell(release_ms=100), script, fps=30)) == "L"


def test_a_small_sideways_move_while_holding_commits_a_double_letter(spell) -> None:
    # The wrist moves 0.05 (half a hand size) and the L is held there again.
    script: Script = [("L", 0.9, 800, 0.50), ("L", 0.9, 800, 0.55)]
    assert text(play(spell(move_ratio=0.4), script, fps=30)) == "LL"
    assert text(play(spell(move_ratio=0), script, fps=30)) == "L"


def test_jitter_below_move_ratio_is_no_movement(spell) -> None:
    script: Script = [("L", 0.9, 800, 0.50), ("L", 0.9, 800, 0.52), ("L", 0.9, 800, 0.50)]
    assert text(play(spell(move_ratio=0.4), script, fps=30)) == "L"


def test_the_hand_away_for_pause_ms_commits_one_space_never_a_leading_one(spell) -> None:
    session = spell(pause_ms=1000)
    assert text(play(session, [(None, 0, 2000, 0)], fps=30)) == ""
    script: Script = [("A", 0.9, 800, 0.5), (None, 0, 3000, 0), ("B", 0.9, 800, 0.5)]
    results = play(session, script, fps=30, start=2010)
    assert text(results) == "A B"
    assert [r.committed for r in results if r.committed] == ["A", " ", "B"]


def test_the_same_letter_after_a_space_is_committed_again(spell) -> None:
    script: Script = [("A", 0.9, 800, 0.5), (None, 0, 1500, 0), ("A", 0.9, 800, 0.5)]
    assert text(play(spell(), script, fps=30)) == "A A"


HELLO: Script = [
    ("L", 0.9, 700, 0.5),  # L
    ("O", 0.5, 150, 0.5),  # the shape changing: nothing leads with confidence
    ("A", 0.9, 700, 0.5),  # A
    ("L", 0.9, 700, 0.5),  # L
    ("L", 0.2, 200, 0.5),  # a brief release
    ("L", 0.9, 700, 0.5),  # L again: a double
    ("O", 0.9, 700, 0.5),  # O
    (None, 0, 1300, 0),  # the hand goes: a space
    ("B", 0.9, 700, 0.5),  # B
    ("B", 0.9, 700, 0.56),  # a small move: B again
]


@pytest.mark.parametrize("fps", [10, 15, 30])
def test_the_same_gestures_spell_the_same_text_at_10_15_and_30_fps(spell, fps: int) -> None:
    results = play(spell(), HELLO, fps=fps)
    assert text(results) == "LALLO BB"


def test_commits_happen_at_the_same_time_whatever_the_frame_rate(spell) -> None:
    first = {}
    for fps in (10, 15, 30):
        results = play(spell(hold_ms=600), [("A", 0.9, 1000, 0.5)], fps=fps)
        first[fps] = next(i for i, r in enumerate(results) if r.committed) * 1000 / fps
    assert all(600 <= t < 600 + 1000 / fps for fps, t in first.items()), first


def test_reset_clears_the_text_and_the_hold(spell) -> None:
    session = spell()
    play(session, [("A", 0.9, 800, 0.5)], fps=30)
    session.reset("B")
    after = session.process(probs("A"), hand(), timestamp_ms=5000)
    assert after.text == "" and after.progress == 0.0  # a fresh hold


def test_edits_delete_clear_and_add_a_space(stage_harness) -> None:
    harness = stage_harness(SpellStage, {})
    session = harness.stage.open("s")
    harness_session = HarnessSession(session, "s")
    play(harness_session, [("A", 0.9, 800, 0.5), ("B", 0.9, 800, 0.5)], fps=30)
    assert session.edit(TextEdit("space")) == "AB "
    assert session.edit(TextEdit("space")) == "AB "  # never two spaces
    assert session.edit(TextEdit("delete")) == "AB"
    assert session.edit(TextEdit("delete")) == "A"
    assert session.edit(TextEdit("clear")) == ""
    assert session.edit(TextEdit("delete")) == ""


def test_a_letter_deleted_while_still_held_needs_a_fresh_hold(stage_harness) -> None:
    harness = stage_harness(SpellStage, {"hold_ms": 600})
    session = harness.stage.open("s")
    driven = HarnessSession(session, "s")
    play(driven, [("A", 0.9, 800, 0.5)], fps=30)
    session.edit(TextEdit("delete"))
    results = play(driven, [("A", 0.9, 500, 0.5)], fps=30, start=810)
    assert text(results) == "" and results[-1].pending == "A"
    assert text(play(driven, [("A", 0.9, 200, 0.5)], fps=30, start=1320)) == "A"


def test_the_text_keeps_only_the_last_max_chars(spell) -> None:
    script: Script = [("A", 0.9, 700, 0.5), ("B", 0.9, 700, 0.5)] * 3
    assert text(play(spell(max_chars=4), script, fps=30)) == "ABAB"


def test_emit_adds_text_committed_and_pending_and_sends_every_commit(stage_harness) -> None:
    emit = stage_harness(EmitStage, {"min_interval_ms": 1000}).session()
    first = emit.process(probs("A"), None, Spelling("", "", "A", 0.25), timestamp_ms=0)
    assert first["text"] == "" and first["committed"] == ""
    assert first["pending"] == {"letter": "A", "progress": 0.25}
    assert emit.process(probs("A"), None, Spelling("", "", "A", 0.5), timestamp_ms=10) is None
    committed = emit.process(probs("A"), None, Spelling("A", "A"), timestamp_ms=20)
    assert committed is not None  # throttled by min_interval_ms, but a commit always goes
    assert (committed["text"], committed["committed"], committed["pending"]) == ("A", "A", None)


def test_emit_without_a_spelling_has_none_of_the_new_fields(stage_harness) -> None:
    reply = stage_harness(EmitStage, {}).session().process(probs("A"), None)
    assert not {"text", "committed", "pending"} & set(reply)
