"""Research tools on real data: ``run`` over photos and a video, record → replay."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signify_graph import create_host
from signify_graph._graph import build_graph
from signify_graph._pipeline import plan_pipeline
from signify_graph.service.record import load_recording, replay

from ..conftest import signify_cli
from ..service.conftest import ROOT, client, next_reply, photo, running_service

pytestmark = pytest.mark.slow

PHOTOS = ROOT / "tests" / "data" / "photos"
VIDEO = ROOT / "tests" / "data" / "video" / "letters.mp4"


signify = signify_cli


def test_run_over_committed_photos_writes_one_json_line_per_photo_each_its_own_session(
    tmp_path: Path,
):
    out = tmp_path / "photos.jsonl"
    done = signify(
        "run",
        "pipelines/fast.yaml",
        "--input",
        str(PHOTOS),
        "--output",
        str(out),
        "--set",
        "hands.pad=0.25",
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(list(PHOTOS.rglob("*.jpg")))
    first = lines[0]
    assert set(first) >= {"index", "source", "label", "reply", "prediction", "error", "timings_ms"}
    assert set(first["timings_ms"]) == {
        "decode",
        "hands",
        "normalize",
        "classify",
        "smooth",
        "spell",
        "emit",
    }
    predicted = [line for line in lines if line["prediction"]]
    correct = sum(line["prediction"]["letter"] == line["label"] for line in predicted)
    assert correct / len(predicted) > 0.7
    assert "\r" not in done.stderr  # piped: no progress bar
    # A session per photo: each one's clock starts at its own first (and only) frame.
    assert {line["timestamp_ms"] for line in lines} == {0}


def test_run_one_stream_feeds_a_photo_folder_as_consecutive_frames_of_one_session(
    tmp_path: Path,
):
    folder = tmp_path / "photos"
    for letter in "BLY":
        (folder / letter).mkdir(parents=True)
        (folder / letter / "hand.jpg").write_bytes(photo(letter))
    out = tmp_path / "stream.jsonl"
    done = signify(
        "run", "pipelines/fast.yaml", "--input", str(folder), "--output", str(out), "--one-stream"
    )
    assert done.returncode == 0, done.stderr
    stamps = [json.loads(line)["timestamp_ms"] for line in out.read_text().splitlines()]
    assert len(stamps) == 3 and stamps[0] == 0 and stamps == sorted(set(stamps))


def test_run_feeds_a_landmark_file_to_the_default_pipeline_in_place_of_hands(tmp_path: Path):
    out = tmp_path / "landmarks.jsonl"
    data = "training/data/roboflow_valid.npz"
    done = signify("run", "pipelines/default.yaml", "--input", data, "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "enters 'default' as landmarks in place of 'decode', 'hands'" in done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(np.load(ROOT / data)["X"])
    assert set(lines[0]["timings_ms"]) == {
        "hands",
        "normalize",
        "classify",
        "smooth",
        "spell",
        "emit",
    }
    assert all(line["error"] is None and line["prediction"] for line in lines)


def test_run_over_a_committed_video_tracks_across_frames_and_shows_progress_on_a_terminal(
    tmp_path: Path,
):
    out = tmp_path / "video.jsonl"
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signify_graph.cli",
            "run",
            "pipelines/default.yaml",
            "--input",
            str(VIDEO),
            "--output",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    assert process.wait(timeout=120) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 60
    stamps = [line["timestamp_ms"] for line in lines]
    assert stamps == sorted(stamps) and stamps[15] - stamps[0] == 1000
    held = [line["prediction"]["letter"] for line in lines[5:15] if line["prediction"]]
    assert held and max(set(held), key=held.count) == "B"
    assert "█".encode() in terminal and b"60/60" in terminal


def test_a_recorded_session_replays_to_identical_replies(tmp_path: Path):
    frames = [photo(letter) for letter in ("B", "L", "Y")]

    async def scenario() -> None:
        async with running_service(record_dir=tmp_path) as service, client(service) as ws:
            for index, jpeg in enumerate(frames * 4):
                if index == 6:
                    await ws.send(json.dumps({"type": "reset", "target": "L"}))
                await ws.send(jpeg)
                await next_reply(ws)

    asyncio.run(scenario())
    (recorded,) = tmp_path.glob("*.jsonl")
    recording = load_recording(recorded)
    assert len(recording.outcomes) == 12
    host = create_host()
    plan = plan_pipeline(
        ROOT / "pipelines/default.yaml", host.registry, overrides=recording.header["overrides"]
    )
    graph = build_graph(plan, host)
    try:
        fresh = list(replay(recording, graph))
    finally:
        graph.close()
    canonical = [json.loads(json.dumps([o.reply, o.error])) for o in fresh]
    assert canonical == [[o.reply, o.error] for o in recording.outcomes]
    assert any(o.reply and o.reply["target"] == "L" for o in fresh)

    same = signify("replay", str(recorded), "pipelines/default.yaml")
    assert same.returncode == 0 and "identical replies" in same.stdout
    other = signify(
        "replay",
        str(recorded),
        "pipelines/fast.yaml",
        "--set",
        "hands.pad=0.25",
        "--set",
        "emit.heartbeat_ms=1",
        "--set",
        "emit.min_interval_ms=0",
        "--json",
    )
    report = json.loads(other.stdout)
    assert other.returncode == 1 and report["differences"]


def test_eval_compare_prints_both_pipelines_side_by_side_on_the_committed_photos():
    done = signify(
        "eval", "pipelines/default.yaml", "--compare", "pipelines/fast.yaml", "--data", str(PHOTOS)
    )
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header == ["pipeline", "default", "fast"]
    accuracy = next(line for line in done.stdout.splitlines() if line.startswith("accuracy"))
    values = accuracy.removeprefix("accuracy (detected hands)").split()
    assert len(values) == 2 and all(v.endswith("%") and 70 < float(v[:-1]) <= 100 for v in values)


def test_eval_on_a_labelled_video_reports_flicker_and_time_to_correct(tmp_path: Path):
    png = tmp_path / "latency.png"
    done = signify(
        "eval", "pipelines/default.yaml", "--data", str(VIDEO), "--json", "--latency-png", str(png)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [span["letter"] for span in report["spans"]] == ["B", "L", "Y", "V"]
    assert all(span["frames"] == 15 for span in report["spans"])
    # The report is consistent with itself; how good the model is lives in the model card.
    spans = report["spans"]
    assert report["never_correct"] == [s["letter"] for s in spans if s["accuracy"] == 0]
    assert report["accuracy"] == pytest.approx(sum(s["accuracy"] for s in spans) / len(spans), 1e-3)
    assert report["accuracy"] >= 0.5  # B, L and Y are read; the shipped model misreads this V
    assert 0 <= report["time_to_correct_ms"] < 1000 and report["flicker_per_s"] >= 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_of_mirrored_photos_through_the_default_pipeline_stays_above_80_percent():
    """``eval --mirror`` flips every photo. The photos are cropped tight around the hand: like
    any such photo they get the hands stage's 25 % border (without it MediaPipe misses more
    hands). How many letters mirroring changes is checked photo by photo in
    tests/stages/test_pipelines.py; the symmetric pipeline below changes none.

    These photos' people are one of the 46 training sources (Roboflow's): the shipped model
    reads them at 85.5 % / 88.6 % (mirrored). The three-source model, which drew a third of its
    batches from those people, was above 90 %; leave-one-source-out, the figure for new people,
    rose from 76 % to 90 % (models/MODEL_CARD.md)."""
    reports = []
    for extra in ([], ["--mirror"]):
        done = signify(
            "eval",
            "pipelines/default.yaml",
            "--data",
            str(PHOTOS),
            "--json",
            "--set",
            "hands.pad=0.25",
            *extra,
        )
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(done.stdout))
    plain, mirrored = reports
    assert plain["n"] == mirrored["n"] == 75
    assert plain["accuracy"] >= 0.8
    assert mirrored["accuracy"] >= 0.8


def test_the_symmetric_pipeline_gives_photos_and_their_mirror_images_the_same_letters():
    """It classifies each frame as it is and flipped and averages the two: mirroring a
    photo swaps the two views, so every prediction must stay where it was."""
    reports = []
    for extra in ([], ["--mirror"]):
        done = signify("eval", "pipelines/symmetric.yaml", "--data", str(PHOTOS), "--json", *extra)
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(done.stdout))
    plain, mirrored = reports
    assert plain["accuracy"] >= 0.8  # 88.6 % with the shipped model (see the test above)
    assert plain["detected"] == mirrored["detected"] >= 65
    assert plain["confusion"] == mirrored["confusion"]
    assert plain["per_letter"] == mirrored["per_letter"]
