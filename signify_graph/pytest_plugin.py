"""pytest fixtures for stage authors (registered through the ``pytest11`` entry point).

* ``stage_harness`` — a factory ``stage_harness(StageClass, params, **options)`` returning a
  loaded :class:`~signify_graph.testing.StageHarness`; everything it opened is closed after
  the test.
* ``signify_host`` — a plugin host with every installed plugin loaded, as the CLI builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._host import PluginHost, create_host
from .testing import StageHarness


@pytest.fixture
def stage_harness() -> Iterator[Callable[..., StageHarness]]:
    opened: list[StageHarness] = []

    def make(stage: Any, params: dict[str, Any] | None = None, **options: Any) -> StageHarness:
        harness = StageHarness(stage, params, **options)
        opened.append(harness)
        return harness

    yield make
    for harness in reversed(opened):
        harness.close()


@pytest.fixture
def signify_host() -> PluginHost:
    return create_host()
