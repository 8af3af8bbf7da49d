"""The Levenshtein distance between two strings, and the alignment behind it.

Spelled text is short (a phrase, not a book), so the textbook dynamic programme over the whole
(n + 1) × (m + 1) table is plenty fast, and keeping the table lets us walk back through it:
besides the distance, the sequence scores need *which* edits were made (insertions, deletions,
substitutions) and which spelled letter stands for which true one (to time each letter's
commit). Written here rather than taken from a library: thirty lines, no dependency to pin,
and the walk-back is exactly the alignment we report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: One step of an alignment: (index in the truth, index in the hypothesis); ``None`` on the side
#: that has no character there (an insertion has no truth index, a deletion no hypothesis one).
Pair = tuple[int | None, int | None]


@dataclass(frozen=True, slots=True)
class Alignment:
    """How ``hypothesis`` was made from ``truth`` with the fewest single-character edits."""

    distance: int
    insertions: int
    deletions: int
    substitutions: int
    #: Every step in order; matches and substitutions pair an index of each.
    pairs: tuple[Pair, ...]

    def matches(self, truth: Sequence[object], hypothesis: Sequence[object]) -> list[Pair]:
        """The pairs whose two characters are equal."""
        return [
            (t, h)
            for t, h in self.pairs
            if t is not None and h is not None and truth[t] == hypothesis[h]
        ]


def align(truth: Sequence[object], hypothesis: Sequence[object]) -> Alignment:
    """The Levenshtein distance (unit costs) from ``truth`` to ``hypothesis``, with one
    optimal alignment. Ties prefer a match or substitution, then a deletion, then an
    insertion, so the alignment is the same every time."""
    n, m = len(truth), len(hypothesis)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        table[i][0] = i
    for j in range(m + 1):
        table[0][j] = j
    for i in range(1, n + 1):
        row, above = table[i], table[i - 1]
        for j in range(1, m + 1):
            cost = 0 if truth[i - 1] == hypothesis[j - 1] else 1
            row[j] = min(above[j - 1] + cost, above[j] + 1, row[j - 1] + 1)
    pairs: list[Pair] = []
    counts = {"insertions": 0, "deletions": 0, "substitutions": 0}
    i, j = n, m
    while i or j:
        if i and j:
            cost = 0 if truth[i - 1] == hypothesis[j - 1] else 1
            if table[i][j] == table[i - 1][j - 1] + cost:
                counts["substitutions"] += cost
                i, j = i - 1, j - 1
                pairs.append((i, j))
                continue
        if i and table[i][j] == table[i - 1][j] + 1:
            counts["deletions"] += 1
            i -= 1
            pairs.append((i, None))
        else:
            counts["insertions"] += 1
            j -= 1
            pairs.append((None, j))
    return Alignment(table[n][m], pairs=tuple(reversed(pairs)), **counts)
