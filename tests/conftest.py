"""Shared test configuration. Keep it small: fixtures of one area live next to its tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signify_graph.cli.native_noise import without_native_noise

REPO = Path(__file__).resolve().parent.parent


def signify_cli(
    *args: str, timeout: float = 300, **options: Any
) -> subprocess.CompletedProcess[str]:
    """``signify-graph ARGS`` as a user runs it: its own process, from the checkout, output
    captured as text (``options`` go to :func:`subprocess.run`, e.g. ``env``)."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "signify_graph.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (holds ``pipelines/``, ``examples/`` and ``benchmarks/``)."""
    return REPO


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Drop MediaPipe's native INFO/WARNING lines from a test's captured stderr, as the CLI does
    for its own stderr: a failing test shows what it printed, not a screen of XNNPACK notices."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [
        (title, without_native_noise(text) if title.startswith("Captured stderr") else text)
        for title, text in report.sections
    ]
