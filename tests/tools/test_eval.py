"""``signify-graph eval``: the report on the committed photos and on a landmark file."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signify_graph import Hand
from signify_graph.cli import main

from ..stages.conftest import PHOTOS, PIPELINES, Photo

pytestmark = pytest.mark.slow

NODES = ["decode", "hands", "normalize", "classify", "smooth", "spell", "emit"]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def photo_run(classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One eval of ``default.yaml`` on the committed photos, with JSON and a PNG."""
    png = tmp_path_factory.mktemp("eval") / "confusion.png"
    code, out, err = run_cli(
        "eval",
        str(PIPELINES / "default.yaml"),
        "--data",
        str(PHOTOS),
        "--set",
        "hands.pad=0.25",
        "--json",
        "--confusion-png",
        str(png),
    )
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    report["_png"] = png
    return report


def check_consistent(report: dict[str, Any]) -> None:
    """The headline numbers are exactly what the per-letter counts and the matrix imply."""
    rows = report["per_letter"].values()
    n, detected, correct = (sum(row[key] for row in rows) for key in ("n", "detected", "correct"))
    assert (report["n"], report["detected"], report["correct"]) == (n, detected, correct)
    assert report["accuracy"] == round(correct / detected, 4)
    assert report["detection_rate"] == round(detected / n, 4)
    assert report["end_to_end"] == round(correct / n, 4)
    confusion = report["confusion"]
    assert list(report["per_letter"]) == confusion["rows"]
    for letter, counts in zip(confusion["rows"], confusion["counts"], strict=True):
        assert len(counts) == len(confusion["columns"])
        assert sum(counts) == report["per_letter"][letter]["detected"]
        hits = counts[confusion["columns"].index(letter)] if letter in confusion["columns"] else 0
        assert hits == report["per_letter"][letter]["correct"]
    for letter, row in report["per_letter"].items():
        expected = round(row["correct"] / row["detected"], 4) if row["detected"] else None
        assert row["accuracy"] == expected, letter


def test_eval_on_the_committed_photos_reports_accuracy_detection_and_latency(
    photo_run: dict[str, Any], photos: list[Photo]
) -> None:
    report = photo_run
    for key in ("accuracy", "n", "detected", "per_letter", "detection_rate", "confusion"):
        assert key in report
    assert report["n"] == len(photos) == 75
    assert report["frames"] == 3
    assert sorted(report["per_letter"]) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert report["per_letter"]["X"]["n"] == 1 and report["per_letter"]["A"]["n"] == 3
    check_consistent(report)
    assert report["detection_rate"] >= 0.85
    assert report["unknown_letters"] == [] and report["errors"] == {}
    assert list(report["latency_ms"]) == [*NODES, "total"]
    for stats in report["latency_ms"].values():
        assert 0 <= stats["p50"] <= stats["p90"]
    print(
        f"\neval default.yaml (pad 0.25) on the photos: accuracy {report['accuracy']:.1%} "
        f"of {report['detected']} detected, detection {report['detection_rate']:.1%}"
    )


def test_eval_draws_the_confusion_matrix_as_a_png(photo_run: dict[str, Any]) -> None:
    png: Path = photo_run["_png"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


@pytest.fixture(scope="module")
def landmark_file(
    padded_hands: list[Hand | None], photos: list[Photo], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Landmarks MediaPipe found on the photos, as raw image coordinates with their letters."""
    pairs = [(hand, p.letter) for hand, p in zip(padded_hands, photos, strict=True) if hand]
    path = tmp_path_factory.mktemp("npz") / "photos.npz"
    np.savez(
        path,
        X=np.stack([hand.landmarks for hand, _ in pairs]),
        y=np.array([letter for _, letter in pairs]),
        aspect=np.array([hand.aspect for hand, _ in pairs]),
    )
    return path


def test_eval_on_a_landmark_file_enters_at_the_landmarks_node(
    landmark_file: Path, classifier: Path
) -> None:
    code, out, err = run_cli(
        "eval", str(PIPELINES / "landmarks.yaml"), "--data", str(landmark_file), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    count = len(np.load(landmark_file)["y"])
    assert report["n"] == report["detected"] == count
    assert report["detection_rate"] == 1.0
    check_consistent(report)
    assert list(report["latency_ms"]) == [
        "landmarks",
        "normalize",
        "classify",
        "smooth",
        "spell",
        "emit",
        "total",
    ]
    print(f"\neval landmarks.yaml on {count} photo landmarks: accuracy {report['accuracy']:.1%}")


def test_a_landmark_file_enters_an_image_pipeline_in_place_of_its_hands_node(
    landmark_file: Path, classifier: Path
) -> None:
    """``default.yaml`` on landmarks: decode and hands give way to a landmarks node named
    ``hands``, so the rest runs as deployed — the same figures as ``landmarks.yaml``, whose
    normalize, classify and smooth are the same."""
    code, out, err = run_cli(
        "eval", str(PIPELINES / "default.yaml"), "--data", str(landmark_file), "--json"
    )
    assert code == 0, err
    assert err.strip() == (
        f"note: {landmark_file.name} enters 'default' as landmarks in place of 'decode', 'hands'"
    )
    report = json.loads(out)
    check_consistent(report)
    assert list(report["latency_ms"]) == [*NODES[1:], "total"]
    code, out, _ = run_cli(
        "eval", str(PIPELINES / "landmarks.yaml"), "--data", str(landmark_file), "--json"
    )
    twin = json.loads(out)
    for key in ("n", "detected", "correct", "accuracy", "per_letter", "confusion"):
        assert report[key] == twin[key], key


def test_letters_the_model_does_not_know_count_as_errors_and_are_listed(
    landmark_file: Path, classifier: Path, tmp_path: Path
) -> None:
    data = dict(np.load(landmark_file))
    data["y"] = data["y"].astype("<U2")
    data["y"][:4] = "Ä"
    path = tmp_path / "unknown.npz"
    np.savez(path, **data)
    code, out, err = run_cli("eval", str(PIPELINES / "landmarks.yaml"), "--data", str(path))
    assert code == 0, err
    assert "letters the model does not know (counted as errors): Ä" in out
    code, out, err = run_cli(
        "eval", str(PIPELINES / "landmarks.yaml"), "--data", str(path), "--json", "--frames", "1"
    )
    report = json.loads(out)
    assert report["unknown_letters"] == ["Ä"]
    assert report["per_letter"]["Ä"] == {"n": 4, "detected": 4, "correct": 0, "accuracy": 0.0}
    check_consistent(report)


def test_the_text_report_shows_summary_letters_confusion_and_latency(
    landmark_file: Path, classifier: Path
) -> None:
    code, out, err = run_cli(
        "eval", str(PIPELINES / "landmarks.yaml"), "--data", str(landmark_file)
    )
    assert code == 0, err
    assert out.startswith("pipeline 'landmarks' on ")
    for needle in ("detection rate 100.0%", "letter  n  detected", "confusion (rows"):
        assert needle in out
    headline = out.splitlines()[1]
    assert " over detected hands (" in headline and " end to end " in headline
    assert "latency per frame (ms)" in out and "classify" in out


def test_compare_speaks_the_single_reports_units_and_draws_both_pipelines(
    landmark_file: Path, classifier: Path, tmp_path: Path
) -> None:
    """Percent, as the single report, not 0.8433; the confusion picture has a panel per
    pipeline and the latency bars sit at the union of both graphs' node ids."""
    from signify_graph.tools.figures import latency_nodes

    confusion, latency = tmp_path / "confusion.png", tmp_path / "latency.png"
    code, out, err = run_cli(
        "eval",
        str(PIPELINES / "landmarks.yaml"),
        "--data",
        str(landmark_file),
        "--compare",
        str(PIPELINES / "landmarks.yaml"),
        "--confusion-png",
        str(confusion),
        "--latency-png",
        str(latency),
    )
    assert code == 0, err
    rows = {line[:28].strip(): line[28:].split() for line in out.splitlines() if line.strip()}
    for label in ("accuracy (detected hands)", "end to end (all samples)", "detection rate"):
        assert all(cell.endswith("%") for cell in rows[label]), rows[label]
    assert rows["detection rate"] == ["100.0%", "100.0%"]
    one = run_cli("eval", str(PIPELINES / "landmarks.yaml"), "--data", str(landmark_file))[1]
    assert f"accuracy {rows['accuracy (detected hands)'][0]} over detected hands" in one
    from matplotlib.image import imread

    single = tmp_path / "single.png"
    run_cli(
        "eval",
        str(PIPELINES / "landmarks.yaml"),
        "--data",
        str(landmark_file),
        "--confusion-png",
        str(single),
    )
    assert imread(confusion).shape[1] > 1.6 * imread(single).shape[1]  # two panels
    assert latency.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = {"latency_ms": {"decode": {}, "hands": {}, "classify": {}}}
    second = {"latency_ms": {"hands": {}, "normalize": {}, "classify": {}}}
    assert latency_nodes([first, second]) == ["decode", "hands", "classify", "normalize"]


@pytest.mark.parametrize(
    ("pipeline", "data", "message"),
    [
        ("landmarks.yaml", PHOTOS, "need a pipeline that starts at 'decode'"),
        ("symmetric.yaml", None, "can stand in for one node that finds the hand"),
        ("default.yaml", PIPELINES / "default.yaml", "expected a folder"),
    ],
    ids=["photos-into-landmarks", "landmarks-into-two-views", "neither"],
)
def test_data_that_does_not_fit_the_pipelines_ingress_is_one_clear_error(
    pipeline: str, data: Path | None, message: str, landmark_file: Path, classifier: Path
) -> None:
    code, out, err = run_cli(
        "eval", str(PIPELINES / pipeline), "--data", str(data or landmark_file)
    )
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_photos_outside_letter_folders_are_refused(
    tmp_path: Path, photos: list[Photo], classifier: Path
) -> None:
    (tmp_path / "photo.jpg").write_bytes(photos[0].data)
    code, _, err = run_cli("eval", str(PIPELINES / "default.yaml"), "--data", str(tmp_path))
    assert code == 1 and "put photos in <LETTER>/ folders" in err
