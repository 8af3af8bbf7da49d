"""The leave-one-source-out table: seeds are averaged, their range kept, and the diagnostic
"letters the sources form alike" leaves the disputed letters out."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import pooled, score

LABELS = ["A", "B", "P"]


def _run(predicted: list[str], truth: list[str]) -> dict[str, object]:
    probs = np.eye(len(LABELS), dtype=np.float32)[[LABELS.index(p) for p in predicted]]
    result = score(probs, np.array(truth), LABELS)
    result["mirrored"] = result["accuracy"]
    return result


def test_seeds_are_averaged_with_their_range_and_disputed_letters_left_out_of_the_diagnostic():
    truth = ["A", "A", "B", "B", "P", "P"]
    runs = {
        "0": _run(["A", "A", "B", "B", "A", "A"], truth),  # 4/6: both P missed
        "1": _run(["A", "B", "B", "B", "P", "A"], truth),  # 4/6
        "2": _run(["A", "A", "B", "B", "P", "P"], truth),  # 6/6
    }
    summary = pooled(runs, differing=["P"])
    assert summary["accuracy"] == pytest.approx((4 + 4 + 6) / 18, abs=1e-4)
    assert (summary["min"], summary["max"]) == (pytest.approx(4 / 6, abs=1e-4), 1.0)
    assert summary["by_seed"]["2"] == 1.0
    assert summary["per_letter"]["P"]["accuracy"] == pytest.approx(1.5 / 3, abs=1e-4)
    # A and B only: 4/4, 3/4, 4/4.
    assert summary["agreed_letters"] == {"n": 4, "accuracy": pytest.approx(11 / 12, abs=1e-4)}
    assert summary["confusions_summed_over_seeds"]["P->A"] == 3
