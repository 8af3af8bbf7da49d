"""The wheel as a user gets it: built, installed into a new venv, run from another directory.

The venv sees the system's site-packages (``--system-site-packages``) so that MediaPipe and
onnxruntime are not downloaded again; signify-graph itself is the wheel's copy, installed
non-editable, and every command runs in a folder outside the repository without PYTHONPATH.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ..service.conftest import ROOT, photo

pytestmark = pytest.mark.slow

#: What the issue allows the wheel to weigh.
MAX_WHEEL_BYTES = 30_000_000
#: What the wheel is built from (the Dockerfile copies the same).
SOURCES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "signify_graph",
    "plugins",
    "models",
    "pipelines",
)
CACHES = shutil.ignore_patterns("__pycache__", "*.egg-info")
LISTENING = re.compile(r"Server listening on ws://[^:]+:(\d+)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of what the package is made of: setuptools writes build/ and
    *.egg-info next to the sources, and the checkout must stay as it was."""
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=CACHES)
        else:
            shutil.copy2(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "-q", "-w", str(out), str(source)], capture_output=True, text=True, cwd=out
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("signify_graph-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True
    )
    done = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        env=outside_env(),
    )
    assert done.returncode == 0, done.stderr
    return env_dir / "bin"


def outside_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return {**env, **extra}


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with no pipelines/ or models/ in it."""
    assert not (tmp_path / "pipelines").exists()
    return tmp_path


def signify(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(bin_dir / "signify-graph"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=outside_env())


def test_the_wheel_carries_the_pipelines_the_models_and_their_licences(wheel: Path):
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "signify_graph/data/"
    for name in ("default.yaml", "fast.yaml", "landmarks.yaml", "symmetric.yaml"):
        assert data + "pipelines/" + name in names
    for name in (
        "classifier.onnx",
        "hand_landmarker_full.task",
        "hand_landmarker_lite.task",
        "LICENSE.mediapipe",
        "NOTICE.mediapipe.md",
    ):
        assert data + "models/" + name in names


def test_the_installed_package_is_the_wheel_not_this_checkout(venv_bin: Path, elsewhere: Path):
    code = "import signify_graph, signify_stages; print(signify_graph.__file__)"
    done = subprocess.run(
        [str(venv_bin / "python"), "-c", code],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=outside_env(),
    )
    assert done.returncode == 0, done.stderr
    assert str(venv_bin.parent) in done.stdout and str(ROOT) not in done.stdout


def test_shipped_pipelines_validate_by_name_from_another_directory(venv_bin: Path, elsewhere: Path):
    done = signify(venv_bin, elsewhere, "validate", "default", "fast", "landmarks", "symmetric")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok (") == 4


def test_a_copied_pipeline_keeps_finding_the_shipped_models(venv_bin: Path, elsewhere: Path):
    copy = elsewhere / "mine.yaml"
    copy.write_text((ROOT / "pipelines" / "fast.yaml").read_text())
    done = signify(venv_bin, elsewhere, "validate", "mine.yaml", "--set", "smooth.window=4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mine.yaml: ok")


def test_serve_without_arguments_answers_a_real_frame_from_another_directory(
    venv_bin: Path, elsewhere: Path
):
    process = subprocess.Popen(
        [str(venv_bin / "signify-graph"), "serve", "--set", "hands.pad=0.25"],
        cwd=elsewhere,
        env=outside_env(PORT="0", HEALTH_PORT="-1", WEBSOCKET_HOST="127.0.0.1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = listening_port(process)
        image = base64.b64encode(photo("B")).decode()
        with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            ws.send(json.dumps({"type": "frame", "image": image, "id": 1}))
            reply = json.loads(ws.recv(timeout=30))
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert reply.get("letter") == "B", reply


def listening_port(process: subprocess.Popen[str]) -> int:
    assert process.stderr is not None
    lines: list[str] = []
    for line in iter_lines(process):
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            return int(match.group(1))
    raise AssertionError("the server never listened:\n" + "".join(lines))


def iter_lines(process: subprocess.Popen[str]) -> Iterator[str]:
    assert process.stderr is not None
    yield from iter(process.stderr.readline, "")


def test_eval_by_name_scores_photos_from_another_directory(venv_bin: Path, elsewhere: Path):
    for letter in ("A", "B"):
        (elsewhere / "photos" / letter).mkdir(parents=True)
        (elsewhere / "photos" / letter / "1.jpg").write_bytes(photo(letter))
    done = signify(
        venv_bin, elsewhere, "eval", "fast", "--data", "photos", "--frames", "1", "--json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["pipeline"], report["n"]) == ("fast", 2)
