"""Every error a user can cause is one line on stderr and a non-zero exit, never a traceback,
and it comes before the work: no model is loaded for a run whose output cannot be written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signify_graph.cli import main

from ..service.conftest import PHOTOS


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.jsonl").write_text("these are notes, not JSON\n")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    return tmp_path


CASES = {
    "run --output into a missing folder": (
        ["run", "default", "--input", str(PHOTOS / "A"), "--output", "{tmp}/no/out.jsonl"],
        "--output {tmp}/no/out.jsonl: the folder {tmp}/no does not exist",
    ),
    "run --output a folder": (
        ["run", "default", "--input", str(PHOTOS / "A"), "--output", "{tmp}"],
        "--output {tmp}: is a folder; give a file name",
    ),
    "run over an empty folder": (
        ["run", "default", "--input", "{tmp}/empty"],
        "{tmp}/empty: no photos (.jpeg, .jpg, .png, .webp) in this folder or below it",
    ),
    "run over a missing input": (
        ["run", "default", "--input", "{tmp}/gone"],
        "{tmp}/gone: no such file or folder",
    ),
    "eval over an empty folder": (
        ["eval", "default", "--data", "{tmp}/empty"],
        "{tmp}/empty: no photos (.jpeg, .jpg, .png, .webp) in this folder or below it",
    ),
    "eval --confusion-png to a missing folder": (
        ["eval", "default", "--data", str(PHOTOS), "--confusion-png", "{tmp}/no/c.png"],
        "--confusion-png {tmp}/no/c.png: the folder {tmp}/no does not exist",
    ),
    "eval --latency-png to a folder": (
        ["eval", "default", "--data", str(PHOTOS), "--latency-png", "{tmp}"],
        "--latency-png {tmp}: is a folder; give a file name",
    ),
    "replay of a missing file": (
        ["replay", "{tmp}/gone.jsonl", "default"],
        "{tmp}/gone.jsonl: cannot read recording: No such file or directory",
    ),
    "replay of a folder": (
        ["replay", "{tmp}", "default"],
        "{tmp}: cannot read recording: Is a directory",
    ),
    "replay of a text file": (
        ["replay", "{tmp}/notes.jsonl", "default"],
        "{tmp}/notes.jsonl:1: not a recording (a JSONL file from serve --record)",
    ),
    "replay of a binary file": (
        ["replay", "{tmp}/binary.jsonl", "default"],
        "{tmp}/binary.jsonl: not a recording (not UTF-8 text, so not JSONL)",
    ),
    "replay of JSON that is no header": (
        ["replay", "{tmp}/list.jsonl", "default"],
        "{tmp}/list.jsonl: not a signify recording of version 1–2",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_user_error_is_one_line_and_a_non_zero_exit(case, files, capsys):
    argv, expected = CASES[case]
    code = main([arg.replace("{tmp}", str(files)) for arg in argv])
    out, err = capsys.readouterr()
    assert code != 0
    assert err.splitlines() == [f"signify-graph: error: {expected.replace('{tmp}', str(files))}"]
    assert out == ""


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"signify-graph (\d\S*|\(not installed\))", line), line
