"""Spelling sequences: the committed five words through the served pipelines, ``eval``'s word
scores on them, and a live session that spells a word replayed to the same text."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signify_graph import create_host, load_graph
from signify_graph.service.record import load_recording

from ..conftest import signify_cli
from ..service.conftest import EVERY_LANDMARK_FRAME, ROOT, client, next_reply, running_service

pytestmark = pytest.mark.slow

SEQUENCES = ROOT / "tests" / "data" / "sequences"
VIDEO, LANDMARKS = SEQUENCES / "words.mp4", SEQUENCES / "words-landmarks.npz"
WORDS = "HELLO MY JAZZ BAND ROCKS"


def signify(*args: str) -> subprocess.CompletedProcess[str]:
    return signify_cli(*args, timeout=600)


def eval_json(*args: str) -> dict[str, Any]:
    done = signify("eval", *args, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_five_word_video_spells_exactly_its_text_through_the_default_pipeline() -> None:
    from signify_graph.tools.sequences import play

    graph = load_graph(str(ROOT / "pipelines" / "default.yaml"), create_host())
    try:
        frames = play(graph, VIDEO)
    finally:
        graph.close()
    spelled = [f.spelling for f in frames if f.spelling is not None]
    assert len(frames) == 516 and len(spelled) == len(frames)
    assert spelled[-1].text.strip() == WORDS
    committed = "".join(s.committed for s in spelled)
    assert committed.strip() == WORDS  # each letter, double letter and space committed once


def check_scores(report: dict[str, Any]) -> None:
    """Every figure is what the spelled text and the commits imply."""
    for sequence in report["per_sequence"]:
        n, d = len(sequence["truth"]), sequence["distance"]
        assert sequence["chars"] == n
        assert d == sequence["insertions"] + sequence["deletions"] + sequence["substitutions"]
        assert sequence["cer"] == round(d / n, 4)
        assert sequence["normalized_levenshtein"] == round(max(0.0, (n - d) / n), 4)
        assert "".join(c["char"] for c in sequence["commits"]).strip() == sequence["text"]
    n = sum(s["chars"] for s in report["per_sequence"])
    d = sum(s["distance"] for s in report["per_sequence"])
    assert (report["chars"], report["distance"]) == (n, d)
    assert report["cer"] == round(d / n, 4)
    assert report["normalized_levenshtein"] == round(max(0.0, (n - d) / n), 4)


def test_eval_on_the_committed_sequences_reports_cer_levenshtein_and_commit_latency() -> None:
    report = eval_json("pipelines/default.yaml", "--data", str(SEQUENCES))
    check_scores(report)
    assert report["sequences"] == 2 and report["kind"] == "spelling"
    assert [s["text"] for s in report["per_sequence"]] == [WORDS, WORDS]
    assert report["cer"] == 0.0 and report["normalized_levenshtein"] == 1.0
    assert report["insertions"] == report["deletions"] == report["substitutions"] == 0
    labels = json.loads((SEQUENCES / "words.labels.json").read_text())
    for sequence in report["per_sequence"]:
        # Every letter is timed: from its span's start to its commit, within the next span.
        commits = [c for c in sequence["commits"] if c["char"] != " "]
        latencies = sequence["commit_latency_ms"]
        for span, commit, latency in zip(labels["spans"], commits, latencies, strict=True):
            assert commit["char"] == span["letter"]
            assert latency == commit["ms"] - span["start_ms"] > 0
    latency = report["commit_latency_ms"]
    assert latency["timed"] == 40 and latency["missed"] == 0
    assert 0 < latency["p50"] <= latency["p90"] < 1500

    done = signify("eval", "pipelines/default.yaml", "--data", str(SEQUENCES))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "CER 0.0%   normalised Levenshtein 1.000" in out
    assert f"commit latency (letter start → commit) p50 {latency['p50']:.0f} ms" in out
    assert f"spelled {WORDS!r}" in out


def test_a_wrong_labels_file_gives_the_error_rate_its_edits_imply(tmp_path: Path) -> None:
    shutil.copy(LANDMARKS, tmp_path / "words.npz")
    # Against "HALLO MI JAZZ BAND ROCK" the spelled text has 2 substitutions and 1 insertion.
    (tmp_path / "words.labels.json").write_text(json.dumps({"text": "hallo mi  jazz band rock"}))
    report = eval_json("pipelines/landmarks.yaml", "--data", str(tmp_path / "words.npz"))
    check_scores(report)
    (sequence,) = report["per_sequence"]
    assert sequence["truth"] == "HALLO MI JAZZ BAND ROCK" and sequence["text"] == WORDS
    assert (report["substitutions"], report["insertions"], report["deletions"]) == (2, 1, 0)
    assert report["cer"] == round(3 / 23, 4) and report["normalized_levenshtein"] == round(
        20 / 23, 4
    )
    assert report["commit_latency_ms"] is None  # no spans, nothing to time
    assert sequence["commit_latency_ms"] == []


def test_without_the_movement_cue_the_landmark_files_double_letters_are_lost() -> None:
    """The landmark sequence makes its double letters by a sideways slide, not a release."""
    report = eval_json(
        "pipelines/landmarks.yaml", "--data", str(LANDMARKS), "--set", "spell.move_ratio=0"
    )
    check_scores(report)
    assert report["per_sequence"][0]["text"] == "HELO MY JAZ BAND ROCKS"
    assert report["deletions"] == 2 and report["cer"] == round(2 / 24, 4)
    assert report["commit_latency_ms"]["missed"] == 2


def test_eval_compare_sets_two_pipelines_spelling_side_by_side() -> None:
    done = signify(
        "eval",
        "pipelines/landmarks.yaml",
        "--data",
        str(LANDMARKS),
        "--compare",
        "pipelines/default.yaml",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["pipeline", "landmarks", "default"]
    assert lines[1].split() == ["cer", "0.0", "0.0"]
    assert f"  landmarks      {WORDS!r}" in lines and f"  default        {WORDS!r}" in lines


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"text": "HI", "spans": [{"letter": "H", "start_ms": 0, "end_ms": 9}]}, "spans spell"),
        ({"text": "  "}, "'text' must be the words spelled"),
        ({"text": "HI", "fps": 0}, "'fps' must be"),
    ],
    ids=["spans-disagree", "empty-text", "bad-fps"],
)
def test_a_bad_labels_file_is_one_line_naming_it(
    tmp_path: Path, labels: dict[str, Any], message: str
) -> None:
    shutil.copy(LANDMARKS, tmp_path / "x.npz")
    (tmp_path / "x.labels.json").write_text(json.dumps(labels))
    done = signify("eval", "pipelines/landmarks.yaml", "--data", str(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert message in done.stderr and "x.labels.json" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_live_session_spelling_a_word_replays_to_the_same_text(tmp_path: Path) -> None:
    """HELLO from the landmark sequence, sent at its 15 fps to a real server that records it;
    ``replay`` gives every reply, the spelled text included, exactly again."""
    data = np.load(LANDMARKS)
    spans = json.loads((SEQUENCES / "words-landmarks.labels.json").read_text())["spans"]
    first_pause = round(spans[4]["end_ms"] * 15 / 1000) + 5  # HELLO, and a little of its pause
    texts: list[str] = []

    async def scenario() -> None:
        async with (
            running_service(
                "pipelines/landmarks.yaml", EVERY_LANDMARK_FRAME, record_dir=tmp_path
            ) as service,
            client(service) as ws,
        ):
            start = time.monotonic()
            for i, (points, aspect) in enumerate(
                zip(data["X"][:first_pause], data["aspect"], strict=False)
            ):
                seen = not np.isnan(points).all()
                message = {"type": "landmarks", "landmarks": points.tolist() if seen else None}
                await ws.send(json.dumps(message | {"aspect": float(aspect)}))
                texts.append((await next_reply(ws))["text"])
                await asyncio.sleep(max(0.0, start + (i + 1) / 15 - time.monotonic()))

    asyncio.run(scenario())
    assert texts[-1] == "HELLO"
    (recorded,) = tmp_path.glob("*.jsonl")
    replies = [o.reply for o in load_recording(recorded).outcomes if o.reply]
    assert [r["text"] for r in replies] == texts
    done = signify("replay", str(recorded), "pipelines/landmarks.yaml", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["differences"] == []
