"""``signify-graph validate``: every problem at once, shipped pipelines by name."""

from __future__ import annotations

from pathlib import Path

from signify_graph.cli import main

from ..service.conftest import ROOT


def test_shipped_pipelines_validate_by_name(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--no-load", "default", "builtin:fast"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "default: ok (7 nodes, input encoded_image)",
        "builtin:fast: ok (7 nodes, input encoded_image)",
    ]


def test_every_missing_model_file_is_reported_at_once_naming_its_parameter(capsys, tmp_path: Path):
    copy = tmp_path / "copy.yaml"
    text = (ROOT / "pipelines" / "default.yaml").read_text()
    copy.write_text(text.replace("builtin:classifier.onnx", "gone.onnx"))
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(copy), "--set", "hands.models_dir=empty"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert "hands.models_dir: no MediaPipe bundle hand_landmarker_full.task" in lines[0]
    assert "classify.model: model file 'gone.onnx' does not exist" in lines[1]


def test_an_unknown_pipeline_name_lists_the_shipped_ones(capsys):
    assert main(["validate", "defualt"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("defualt:1:1: cannot read pipeline")
    assert line.endswith("(shipped pipelines: default, fast, landmarks, symmetric)")
