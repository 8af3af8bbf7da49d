"""The leave-one-source-out report: every source is held out by exactly one fold, seeds are
averaged, and the summary gives the figures the goals are stated in."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import all_training_sources
from training.evaluate import score
from training.loso import _mean_over_seeds, folds_of, per_letter, summarise

LABELS = ["A", "B", "P"]


def _run(predicted: list[str], truth: list[str], letters: int = 3) -> dict[str, object]:
    probs = np.eye(len(LABELS), dtype=np.float32)[[LABELS.index(p) for p in predicted]]
    result = score(probs, np.array(truth), LABELS)
    result.update(mirrored=result["accuracy"], letters=letters, has_z=True, flat=0.5)
    return result


def test_each_source_is_held_out_by_exactly_one_fold_whatever_the_number_of_folds():
    names = list(all_training_sources())
    assert folds_of(names, None) == [[name] for name in names]
    for k in (2, 6, 10):
        groups = folds_of(names, k)
        assert len(groups) == k and sorted(n for g in groups for n in g) == sorted(names)
        assert max(map(len, groups)) - min(map(len, groups)) <= 1


def test_seeds_are_averaged_per_source_and_per_letter():
    truth = ["A", "A", "B", "B", "P", "P"]
    runs = [
        _run(["A", "A", "B", "B", "A", "A"], truth),  # 4/6: both P missed
        _run(["A", "A", "B", "B", "P", "P"], truth),  # 6/6
    ]
    pooled = _mean_over_seeds(runs)
    assert pooled["accuracy"] == pytest.approx(10 / 12, abs=1e-4)
    assert pooled["by_seed"] == [pytest.approx(4 / 6, abs=1e-4), 1.0]
    assert pooled["per_letter"]["P"]["accuracy"] == 0.5
    assert pooled["flat"] == 0.5


def test_the_summary_states_mean_median_worst_five_and_the_broad_sources_minimum():
    per_source = {
        f"s{i}": {"accuracy": a, "letters": letters, "mirrored": a, "per_letter": {}}
        for i, (a, letters) in enumerate(
            [(0.99, 3), (0.95, 26), (0.90, 24), (0.80, 25), (0.70, 3), (0.60, 5), (0.97, 26)]
        )
    }
    summary = summarise(per_source)
    assert summary["mean"] == pytest.approx(5.91 / 7, abs=1e-4)
    assert summary["median"] == 0.90
    assert list(summary["worst_five"]) == ["s5", "s4", "s3", "s2", "s1"]
    assert summary["broad_sources"] == 4  # ≥ 20 letters
    assert summary["broad_min"] == ("s3", 0.80)
    assert summary["broad_below_85"] == ["s3"]


def test_the_per_letter_table_counts_each_source_holding_the_letter_once():
    per_source = {
        "big": {"per_letter": {"A": {"n": 400, "accuracy": 1.0}, "P": {"n": 400, "accuracy": 0.1}}},
        "small": {"per_letter": {"A": {"n": 20, "accuracy": 0.5}}},
    }
    table = per_letter(per_source)
    assert table["A"]["mean"] == 0.75 and table["A"]["sources"] == 2
    assert table["P"] == {"sources": 1, "mean": 0.1, "below_80": 1, "worst": {"big": 0.1}}
