"""Keep MediaPipe's native INFO/WARNING chatter out of our stderr.

MediaPipe and LiteRT write lines such as ``INFO: Created TensorFlow Lite XNNPACK delegate``
straight to file descriptor 2 whenever a landmarker is created; no setting of theirs turns
them off. Left alone they bury the one-line start-up errors and the structured log. So the
CLI points fd 2 at a pipe, drops native lines at INFO and WARNING level, and forwards every
other byte — errors, fatal messages, anything unknown — to the real stderr. Python's own
``sys.stderr`` writes straight to the real stderr and never passes through the filter.

Set ``SIGNIFY_NATIVE_LOGS=1`` to see everything unfiltered.
"""

from __future__ import annotations

import os
import re
import sys
import threading

_NOISE = re.compile(
    rb"^(INFO: |[IW]\d{4} |WARNING: (Logging before InitGoogle|All log messages before absl::))"
)


def without_native_noise(text: str) -> str:
    """``text`` without the native INFO/WARNING lines (for output captured elsewhere: tests)."""
    kept = (line for line in text.splitlines(keepends=True) if not _NOISE.match(line.encode()))
    return "".join(kept)


def _forward(read_fd: int, write_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            if not _NOISE.match(line):
                os.write(write_fd, line)


def filter_native_stderr() -> None:
    """Install the filter once per process (no-op when disabled or already installed)."""
    if os.environ.get("SIGNIFY_NATIVE_LOGS") == "1" or getattr(filter_native_stderr, "done", False):
        return
    filter_native_stderr.done = True  # type: ignore[attr-defined]
    sys.stderr.flush()
    real = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = open(real, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    threading.Thread(
        target=_forward, args=(read_fd, real), name="native-stderr", daemon=True
    ).start()
