"""A progress bar on a terminal, and nothing at all when stderr is piped or redirected."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int | None, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total, self.label, self.done = total, label, 0
        self._started = self._shown = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._shown > 0.1 or self.done == self.total):
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            filled = int(30 * self.done / self.total)
            bar = "█" * filled + "·" * (30 - filled)
            text = f"\r{self.label} {bar} {self.done}/{self.total} ({rate:.0f}/s)"
        else:
            text = f"\r{self.label} {self.done} ({rate:.0f}/s)"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
