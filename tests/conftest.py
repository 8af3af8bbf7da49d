"""Shared test configuration. Keep it small: fixtures of one area live next to its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (holds ``pipelines/``, ``examples/`` and ``benchmarks/``)."""
    return REPO
