"""Freed heap memory goes back to the OS (glibc's ``malloc_trim``), and the service does it."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap

import pytest

from signify_graph.service.memory import malloc_trim

from .conftest import run, running_service

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(malloc_trim() is None, reason="the C library has no malloc_trim"),
]

# 200 MB in 100 kB blocks (below glibc's mmap threshold, so on the heap), all freed but the
# topmost, so that glibc cannot shrink the heap from its top by itself.
FRAGMENTED_HEAP = textwrap.dedent(
    """
    import json, os
    from signify_graph.service.memory import malloc_trim

    def rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    blocks = [b"\\x01" * 100_000 for _ in range(2000)]
    top = blocks[-1]
    del blocks[:-1]
    before = rss()
    released = malloc_trim()()
    print(json.dumps({"before": before, "after": rss(), "released": released}))
    """
)


def test_malloc_trim_gives_freed_heap_back_to_the_os():
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)
    assert result["released"] is True
    assert result["before"] - result["after"] > 150e6, result


@pytest.mark.parametrize(("interval", "trims"), [(0.05, True), (0.0, False)])
def test_the_service_trims_on_its_interval_and_not_when_off(caplog, interval, trims):
    caplog.set_level(logging.DEBUG, logger="signify_graph.memory")

    async def scenario() -> None:
        async with running_service(
            "pipelines/landmarks.yaml", overrides=[], memory_trim_interval=interval
        ):
            await asyncio.sleep(0.4)

    run(scenario)
    calls = [r for r in caplog.records if r.getMessage().startswith("malloc_trim:")]
    assert (len(calls) >= 2) is trims, [r.getMessage() for r in calls]
