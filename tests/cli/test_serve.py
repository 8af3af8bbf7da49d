"""``signify-graph serve`` as operators run it: a real process, signals, exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ..service.conftest import ROOT

pytestmark = pytest.mark.slow

LISTENING = re.compile(r"Server listening on ws://[^:]+:(\d+)")


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "PORT": "0",
        "HEALTH_PORT": "-1",
        "WEBSOCKET_HOST": "127.0.0.1",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "signify_graph.cli", "serve", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_port(process: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, list[str]]:
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            return int(match.group(1)), lines
    raise AssertionError("the server never listened:\n" + "".join(lines))


def test_sigterm_closes_sessions_with_1001_and_exits_0():
    process = serve()
    try:
        port, lines = wait_for_port(process)
        assert any("Loaded ONNX model from" in line for line in lines)
        with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            process.send_signal(signal.SIGTERM)
            with pytest.raises(Exception):  # noqa: B017 — any close ends the loop
                ws.recv(timeout=10)
            close_code = ws.close_code
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
        process.communicate()  # closes the pipes
    assert close_code == 1001


#: A refusal must not wait on anything (a health app, a restart loop, a timeout): it comes as
#: soon as the file or model is read. The bound is wide because a loaded 2-core machine, and
#: the supervisor's start with --workers, can take several seconds just to import; how fast a
#: start is belongs to the benchmarks, this only catches a refusal that hangs.
REFUSED_WITHIN_S = 25


def refuse(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], float]:
    started = time.monotonic()
    process = serve(*args, env=env)
    _, stderr = process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line.strip()]
    return process.returncode, lines, time.monotonic() - started


def test_an_invalid_pipeline_refuses_to_start_with_one_line(tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nnodes:\n  - id: decode\n    stage: decod\n")
    code, lines, elapsed = refuse(str(broken))
    assert code != 0 and len(lines) == 1, lines
    assert lines[0].startswith(f"{broken}:4:12: ") and "did you mean 'decode'" in lines[0]
    assert elapsed < REFUSED_WITHIN_S


def test_a_missing_model_refuses_to_start_with_one_line():
    code, lines, elapsed = refuse("--set", "classify.model=no-such-model.onnx")
    assert code != 0 and len(lines) == 1, lines
    assert "no-such-model.onnx" in lines[0] and "does not exist" in lines[0]
    assert elapsed < REFUSED_WITHIN_S


def test_a_corrupt_model_refuses_to_start_with_one_line(tmp_path: Path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(4096))
    code, lines, elapsed = refuse("--set", f"classify.model={corrupt}")
    assert code != 0 and len(lines) == 1, lines
    assert "cannot load ONNX model" in lines[0]
    assert elapsed < REFUSED_WITHIN_S


def test_an_invalid_setting_refuses_to_start_with_one_line():
    code, lines, _ = refuse(env={"HEALTH_PORT": "eighty"})
    assert code != 0 and len(lines) == 1, lines
    assert "HEALTH_PORT" in lines[0]


def test_an_invalid_predecessor_variable_refuses_to_start_with_one_line():
    code, lines, _ = refuse(env={"SLIDING_WINDOW_SIZE": "0"})
    assert code != 0 and len(lines) == 1, lines
    assert "smooth.window" in lines[0] and "from environment SLIDING_WINDOW_SIZE" in lines[0]


def test_a_broken_plugin_refuses_to_start_with_one_line(tmp_path: Path):
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[signify_graph]\nbroken = broken_plugin_module\n")
    (tmp_path / "broken_plugin_module.py").write_text("raise RuntimeError('boom')\n")
    code, lines, _ = refuse(env={"PYTHONPATH": str(tmp_path)})
    assert code != 0 and len(lines) == 1, lines
    assert "broken-plugin" in lines[0] and "broken = broken_plugin_module" in lines[0]


def test_a_missing_pipeline_fails_before_the_health_app_announces_itself():
    code, lines, elapsed = refuse("no-such-pipeline.yaml", env={"HEALTH_PORT": "0"})
    assert code != 0 and len(lines) == 1, lines
    assert "cannot read pipeline" in lines[0] and "shipped pipelines: default, fast" in lines[0]
    assert elapsed < REFUSED_WITHIN_S


def test_a_missing_model_fails_before_the_health_app_announces_itself():
    code, lines, _ = refuse("fast", "--set", "classify.model=nope.onnx", env={"HEALTH_PORT": "0"})
    assert code != 0 and len(lines) == 1, lines
    assert "classify.model" in lines[0]


def test_a_corrupt_model_fails_without_announcing_the_health_endpoint(tmp_path: Path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(4096))
    code, lines, _ = refuse("--set", f"classify.model={corrupt}", env={"HEALTH_PORT": "0"})
    assert code != 0 and len(lines) == 1, lines
    assert "cannot load ONNX model" in lines[0]


def test_one_worker_is_the_one_process_of_old_with_no_supervisor():
    process = serve("--workers", "1")
    try:
        port, _ = wait_for_port(process)
        with connect(f"ws://127.0.0.1:{port}/", compression=None):
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as answer:
                health = json.loads(answer.read())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.communicate()
    assert children.split() == [] and "worker" not in health and health["sessions"] == 1


def test_a_negative_worker_count_refuses_to_start_with_one_line():
    code, lines, _ = refuse("--workers", "-1")
    assert code != 0 and len(lines) == 1, lines
    assert "SIGNIFY_PROCESSES" in lines[0]
