"""Shared test configuration. Keep it small: fixtures of one area live next to its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from signify_graph.cli.native_noise import without_native_noise

REPO = Path(__file__).resolve().parent.parent


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
