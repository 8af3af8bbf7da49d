"""The Levenshtein alignment behind the spelling scores: its distance and its edit counts."""

from __future__ import annotations

from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from signify_graph.tools.edits import align

TEXT = st.text(alphabet="ABL O", max_size=9)


def slow_distance(a: str, b: str) -> int:
    """The definition, recursively: an oracle for short strings."""

    @cache
    def d(i: int, j: int) -> int:
        if not i or not j:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_the_distance_counts_insertions_deletions_and_substitutions() -> None:
    result = align("HELLO WORLD", "HELO WORDS")
    assert result.distance == 3
    assert (result.insertions, result.deletions, result.substitutions) == (0, 1, 2)
    assert align("", "AB").insertions == 2 and align("AB", "").deletions == 2
    assert align("SAME", "SAME").distance == 0


def test_matches_pair_each_spelled_letter_with_the_true_one_it_stands_for() -> None:
    truth, spelled = "HELLO", "HXLO"
    result = align(truth, spelled)
    # One L is missing: the alignment (walked back from the end) keeps the second.
    assert result.matches(truth, spelled) == [(0, 0), (3, 2), (4, 3)]
    assert result.deletions == 1 and result.substitutions == 1


@given(TEXT, TEXT)
def test_the_alignment_is_optimal_and_rebuilds_the_hypothesis(truth: str, spelled: str) -> None:
    result = align(truth, spelled)
    assert result.distance == slow_distance(truth, spelled)
    assert result.distance == result.insertions + result.deletions + result.substitutions
    assert "".join(spelled[h] for _, h in result.pairs if h is not None) == spelled
    assert "".join(truth[t] for t, _ in result.pairs if t is not None) == truth
    assert result.distance == align(spelled, truth).distance
