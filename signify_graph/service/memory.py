"""Hand freed heap memory back to the operating system now and then.

A long-running server allocates and frees frames, MediaPipe buffers and numpy arrays on many
threads. glibc keeps freed memory in its heap arenas for reuse rather than returning it, so the
resident size — what a container is billed for and killed for — stays at its peak long after
the sessions that needed it have closed, although nothing leaks. ``malloc_trim(0)`` gives the
free pages back: 8 sessions' 672 MB fell to 286 MB within a minute of their leaving, and stayed
at 668 MB without it (``BENCHMARKS.md``, "Memory given back"). It exists in glibc only;
elsewhere (musl, macOS) there is nothing to call and nothing happens.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("signify_graph.memory")


def malloc_trim() -> Callable[[], bool] | None:
    """A call that returns free heap pages to the OS (True if it released any), or ``None``
    where the C library has no ``malloc_trim``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        function = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int

    def trim() -> bool:
        return bool(function(0))

    return trim


async def trim_every(interval: float, trim: Callable[[], bool]) -> None:
    """Call ``trim`` every ``interval`` seconds, off the event loop (it walks every arena)."""
    while True:
        await asyncio.sleep(interval)
        started = time.perf_counter()
        released = await asyncio.to_thread(trim)
        log.debug(
            "malloc_trim: %s in %.1f ms",
            "released memory" if released else "nothing to release",
            (time.perf_counter() - started) * 1000,
        )
