"""Fixtures of the engine tests: a host with only the tiny test stages, and the fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from signify_graph import PluginHost, create_host

from . import stages

PIPELINES = Path(__file__).resolve().parent / "pipelines"


@pytest.fixture
def host() -> PluginHost:
    """A plugin host with the test stages only: no entry points, no models."""
    return create_host(extra_plugins=[stages], entry_points=False)


@pytest.fixture
def pipelines() -> Path:
    """The folder of pipeline fixture files (``valid/`` and ``broken/``)."""
    return PIPELINES
