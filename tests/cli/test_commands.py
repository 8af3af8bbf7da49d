"""The command line: one module per command, registered alike, imported lazily."""

from __future__ import annotations

import subprocess
import sys

from signify_graph.cli import COMMANDS, build_parser, command


def test_every_command_module_registers_a_parser_and_a_run():
    parser = build_parser()
    for name in COMMANDS:
        module = command(name)
        assert callable(module.run) and module.__doc__, name
        assert parser.parse_args([name, *_required(name)]).command == name


def _required(name: str) -> list[str]:
    return {
        "validate": ["x.yaml"],
        "graph": ["x.yaml"],
        "serve": [],
        "run": ["x.yaml", "--input", "photos"],
        "replay": ["recording.jsonl", "x.yaml"],
        "bench": ["x.yaml"],
        "eval": ["x.yaml", "--data", "photos"],
        "loadtest": ["ws://127.0.0.1:1/"],
    }.get(name, [])


def test_building_the_parser_imports_neither_the_service_nor_the_tools():
    """``validate`` and ``stages`` start without the server, asyncio's WebSocket stack, the
    research tools or MediaPipe: what a command needs is imported when it runs."""
    code = (
        "import sys; from signify_graph.cli import build_parser; build_parser(); "
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = [
        m
        for m in loaded
        if m.startswith(("signify_graph.service", "signify_graph.tools", "websockets", "mediapipe"))
    ]
    assert heavy == []


def test_native_noise_is_dropped_and_everything_else_kept():
    from signify_graph.cli.native_noise import without_native_noise

    text = (
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
        "W0000 00:00:1796193578.676334 24721 inference_feedback_manager.cc:114] Feedback\n"
        "E0000 00:00:1796193578.676334 24721 a real error\n"
        "Traceback (most recent call last):\n"
    )
    assert without_native_noise(text) == (
        "E0000 00:00:1796193578.676334 24721 a real error\nTraceback (most recent call last):\n"
    )


def test_stages_shows_each_parameter_with_its_description(capsys):
    from signify_graph.cli import main

    assert main(["stages"]) == 0
    lines = capsys.readouterr().out.splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("    - window: int"))
    assert lines[where + 1].strip().startswith("Number of probability vectors to average")


def test_loadtest_help_shows_every_default(capsys):
    import pytest

    from signify_graph.cli import main

    with pytest.raises(SystemExit):
        main(["loadtest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 4)", "(default: 15.0)", "(default: 30.0)", "(default: 2.0)"):
        assert default in text


def _graph_stderr(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "signify_graph.cli", "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_set_that_changes_one_of_two_views_says_so_and_names_the_other():
    """symmetric.yaml runs stage ``hands`` twice; ``--set hands.…`` reaches one view only."""
    noted = _graph_stderr("symmetric", "--set", "hands.model=0")
    assert "changes node 'hands' only; 'hands_flipped' also runs stage 'hands'" in noted
    assert "--set hands_flipped.model=" in noted
    both = _graph_stderr("symmetric", "--set", "hands.model=0", "--set", "hands_flipped.model=0")
    assert "note:" not in both
    assert "note:" not in _graph_stderr("default", "--set", "hands.model=0")
